# Two commands on a fresh machine (see README):
#   make run    set up .venv, index the corpus, start the tutor
#   make test   set up .venv with test tools, run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup setup-test run test bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "stack-tutor needs Python 3.11 (set PYTHON=/path/to/python3.11)"'
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the CPU build (an unpinned torch pulls a multi-GB CUDA build).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	@touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

run: setup
	$(BIN)/tutor ingest
	$(BIN)/tutor search --interactive

test: setup-test
	$(BIN)/python -m pytest

bench: setup
	cd benchmarks && ../$(BIN)/python retrieval_quality.py --sweep --out docs/results/retrieval_quality.json
	cd benchmarks && ../$(BIN)/python speed.py

clean:
	rm -rf $(VENV) .tutor
