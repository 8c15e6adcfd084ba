# The menu. `make help` lists it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
MODEL_DIR := build/model

export PYTHONPATH := $(CURDIR)/model_training:$(CURDIR)/layers/shared:$(CURDIR)/functions/api:$(CURDIR)/functions/pending:$(CURDIR)/local_stack

.DEFAULT_GOAL := help
.PHONY: help install train serve test unit lint format openapi bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with everything the project needs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[model,api,dev,bench]"
	touch $@

train: install ## train a model on model_training/data into build/model (+ build/model.tar.gz)
	$(PY) model_training/train.py --model-dir $(MODEL_DIR) --archive build/model.tar.gz

$(MODEL_DIR)/metadata.json:
	$(MAKE) train

serve: install $(MODEL_DIR)/metadata.json ## serve the latest local model on PORT (default 8080)
	MODEL_URI=$(MODEL_DIR) PORT=$(PORT) HOST=127.0.0.1 $(PY) -m sentiment_model.container serve

test: lint unit ## lint, type-check and run every test

unit: install
	$(PY) -m pytest

lint: install ## ruff, formatting and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

openapi: install ## regenerate functions/api/openapi.json from the API's routes
	$(PY) -m sentiment_local.openapi > functions/api/openapi.json

bench: install ## accuracy, speed and throughput against the seeds' recipe; prints a table
	$(PY) bench/run.py

clean: ## remove trained models and benchmark output
	rm -rf build
