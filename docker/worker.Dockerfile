# The GPU worker: one container (one process) per GPU, CUDA build of torch.
# Build from the repository root: docker build -f docker/worker.Dockerfile -t brandgate-worker .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip \
      tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

RUN useradd --create-home --uid 10001 brandgate
WORKDIR /app

# The CUDA 12.8 build of the pinned torch; everything else from pyproject.toml.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
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
    BRANDGATE_LOG_FORMAT=json \
    BRANDGATE_METRICS_PORT=9464
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=3).status != 200)"
CMD ["brandgate", "worker", "--queues", "preview"]
