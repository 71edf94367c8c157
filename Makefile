# Two commands on a fresh machine (see README):
#   make run    set up .venv, index the corpus, start the tutor in the browser (http://127.0.0.1:7860)
#   make test   set up .venv with test tools, run the whole test suite (make test-fast: without the real LLM)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup setup-test run test test-fast bench eval clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "stack-tutor needs Python 3.11 (set PYTHON=/path/to/python3.11)"'
	$(PYTHON) -m venv $(VENV)

# llama.cpp is compiled for this CPU without -march=native (which crashes on CPUs with AMX), with the
# AVX-512 extensions the CPU reports. AVX2/FMA/F16C are on by default once GGML_NATIVE is off.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF \
	$(if $(findstring avx512f,$(CPU_FLAGS)),-DGGML_AVX512=ON) \
	$(if $(findstring avx512_vbmi,$(CPU_FLAGS)),-DGGML_AVX512_VBMI=ON) \
	$(if $(findstring avx512_vnni,$(CPU_FLAGS)),-DGGML_AVX512_VNNI=ON) \
	$(if $(findstring avx512_bf16,$(CPU_FLAGS)),-DGGML_AVX512_BF16=ON) \
	$(if $(findstring avx_vnni,$(CPU_FLAGS)),-DGGML_AVX_VNNI=ON)
LLAMA_CPP := llama-cpp-python[server]==0.3.36

# torch first, pinned: the CPU build (an unpinned torch pulls a multi-GB CUDA build).
# llama-cpp-python next: compiled once per machine with the flags above into a wheel cache keyed by its
# version and the flags (scripts/llama-wheel.sh; ~/.cache/stack-tutor/wheels, TUTOR_WHEEL_CACHE to move it),
# so a second venv on the same machine installs it in seconds and other flags never reuse it.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	@$(BIN)/python -c 'import llama_cpp' 2>/dev/null || \
	  scripts/llama-wheel.sh $(BIN)/python "$(LLAMA_CPP)" "$(strip $(LLAMA_CMAKE_ARGS))"
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	@touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

run: setup
	$(BIN)/tutor ingest
	$(BIN)/tutor ui

# The whole suite (what CI runs), with the slowest tests listed at the end.
test: setup-test
	$(BIN)/python -m pytest --durations=25

# The inner loop: unit tests and the fake-model tests, no real LLM (a few minutes).
test-fast: setup-test
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python benchmarks/retrieval_quality.py --sweep --out docs/results/retrieval_quality.json
	$(BIN)/python benchmarks/speed.py --out docs/results/speed.json
	$(BIN)/python benchmarks/refusal_calibration.py
	$(BIN)/python benchmarks/agent.py
	$(BIN)/python benchmarks/ui.py
	$(BIN)/python benchmarks/learn.py
	$(BIN)/tutor eval-learn --out docs/results/learn

eval: setup
	$(BIN)/tutor eval

clean:
	rm -rf $(VENV) .tutor
