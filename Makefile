# Attention, Step by Step — the two commands are `make book` and `make test`.
# Everything else is a building block of those two, or a convenience.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.requirements-installed
NPM_STAMP := node_modules/.package-lock.json
VENDOR_STAMP := book/_vendor/.vendored
export PYTHONHASHSEED := 0

.PHONY: help env vendor book test lint format sync unit book-tests browser colab bench gpu-check serve clean

help:
	@echo "make book   build the HTML book into _build/html (creates the environment first)"
	@echo "make test   lint, unit tests, notebook pairing, the book build and browser tests"
	@echo "make sync   pair notebooks/*.py with notebooks/*.ipynb (outputs stripped)"
	@echo "make lint | format | unit | browser | colab | bench | gpu-check | serve | clean"

# --- environment -------------------------------------------------------------
# Rebuilt only when requirements.txt or pyproject.toml change (a fast no-op otherwise).
$(ENV_STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

env: $(ENV_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

$(VENDOR_STAMP): $(NPM_STAMP) tools/vendor_assets.py $(ENV_STAMP)
	$(PY) tools/vendor_assets.py
	@touch $@

vendor: $(VENDOR_STAMP)

# --- the book ----------------------------------------------------------------
book: env vendor
	$(PY) tools/build_book.py

serve: book
	$(PY) -m http.server --directory _build/html 8000

# --- checks ------------------------------------------------------------------
lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

sync: env
	$(VENV)/bin/jupytext --quiet --set-kernel python3 notebooks/*.py
	$(VENV)/bin/jupytext --quiet --sync notebooks/*.py
	$(PY) tools/chapter_setup.py --fix
	$(PY) tools/strip_outputs.py notebooks/*.ipynb

unit: env
	$(PY) -m pytest -m "not browser and not book and not colab" -q -n 2

book-tests: env
	$(PY) -m pytest -m "book or browser" -q

colab: env
	$(PY) -m pytest -m colab -q

test: env vendor
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory book
	$(MAKE) --no-print-directory book-tests
	$(MAKE) --no-print-directory colab

# --- measurements ------------------------------------------------------------
bench: env
	$(PY) benchmarks/run_all.py

# On a machine with a CUDA GPU: device tests, then the benchmarks on CUDA.
gpu-check: env
	$(PY) tools/gpu_check.py

clean:
	rm -rf _build book/_vendor
