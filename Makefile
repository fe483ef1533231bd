# Dossier — every target installs what is missing first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DOSSIER := $(VENV)/bin/dossier
KB ?= dossier-data
DEMO_DOCS ?=
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_HUB_DISABLE_TELEMETRY=1
export DO_NOT_TRACK=1
export VLLM_NO_USAGE_STATS=1

.PHONY: help setup demo test test-fast bench lint samples clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup:  ## install everything on a fresh machine (idempotent)
	@bash scripts/setup.sh

samples: setup  ## regenerate the sample contract's PDF and DOCX from samples/make_samples.py
	$(PY) samples/make_samples.py

demo: setup  ## the main job on embedded defaults: ingest, search, ask, review
	@bash scripts/demo.sh "$(KB)" $(DEMO_DOCS)

test: setup  ## the whole test suite on real backends
	$(PY) -m pytest -q

test-fast: setup  ## tests not marked slow
	$(PY) -m pytest -q -m "not slow and not llm"

bench: setup  ## benchmarks -> BENCHMARKS.md (BENCH_QUICK=1: small slice; SECTIONS="agent api": re-run those only)
	$(PY) -m evaluation.bench $(SECTIONS)

lint: setup  ## ruff + import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:  ## remove the demo knowledge base
	rm -rf $(KB)
