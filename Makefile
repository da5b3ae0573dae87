# One entry point for people and CI. `make install` builds .venv/ from nothing; `make test` runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 4000

.PHONY: install proxy test test-unit test-integration lint format

install: $(BIN)/.installed

$(BIN)/.installed: provider/pyproject.toml tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e './provider[proxy]' -r tests/requirements.txt
	touch $@

# Local use without Kubernetes: LiteLLM's proxy serving this machine's own Claude Code login.
proxy: install
	$(BIN)/litellm --config examples/litellm-config.yaml --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest -m unit

test-integration: install
	$(BIN)/pytest -m integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
