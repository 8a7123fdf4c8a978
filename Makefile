# Set-up and everyday commands. Every target sets up what it needs first and
# is quick when that is already done.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
SYSTEM_STAMP := var/.system-deps
DEPS_STAMP := $(VENV)/.brandgate-deps
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2

.PHONY: setup system-deps test test-slow test-all lint format clean-venv

setup: $(SYSTEM_STAMP) $(DEPS_STAMP)

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
