# The Slack bot (and the scheduler): CPU only, no model weights.
# Build from the repository root: docker build -f docker/bot.Dockerfile -t brandgate-bot .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 brandgate
WORKDIR /app

# torch from the CPU index first: the default index pulls GBs of CUDA libraries the bot never uses.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY brandgate ./brandgate
COPY bot ./bot
COPY pipeline ./pipeline
COPY policies ./policies
COPY migrations ./migrations
COPY alembic.ini ./
COPY brand_kits ./brand_kits
RUN pip install .

USER brandgate
ENV BRANDGATE_KITS_DIR=/app/brand_kits \
    BRANDGATE_LOG_FORMAT=json
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status != 200)"
CMD ["brandgate", "bot"]
