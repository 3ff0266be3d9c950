# Two commands do everything on a fresh machine:  make demo   and   make test
# Each creates .venv (with $(PYTHON) -m venv) and installs the project editable when needed;
# it reinstalls only when pyproject.toml changes (the stamp file name carries its hash).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell $(PYTHON) -c "import hashlib; print(hashlib.sha256(open('pyproject.toml', 'rb').read()).hexdigest()[:12])")
DEV    := $(VENV)/.stamp-dev-$(HASH)
BENCH  := $(VENV)/.stamp-bench-$(HASH)
LINT_PATHS := $(wildcard kit tests benchmarks)

.PHONY: all test fast demo lint format bench clean
.DEFAULT_GOAL := test

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(DEV): | $(BIN)/python
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "from kit.engine import jit; jit.warm()"  # compile the replay kernel once, cached on disk
	rm -f $(VENV)/.stamp-dev-*
	touch $@

$(BENCH): | $(BIN)/python
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -c "from kit.engine import jit; jit.warm()"
	rm -f $(VENV)/.stamp-bench-*
	touch $@

## test: lint, type-check, then every test and doctest (testnet and soak markers stay off)
## (unbuffered: what pytest-timeout writes about a stuck test reaches a CI log even if the run is killed)
test: lint
	PYTHONUNBUFFERED=1 $(BIN)/pytest

## fast: the inner loop: lint, then every test not marked slow, chaos or browser, on all cores (xdist)
fast: lint
	$(BIN)/pytest -n auto -m "not slow and not chaos and not browser and not testnet and not soak"

## demo: the staged walk against the offline localnet exchange, ending in reports/demo.html
demo: $(DEV)
	$(BIN)/kit demo

## lint: ruff (rules and formatting) and mypy, as in CI
lint: $(DEV)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy kit

## format: apply ruff's formatter and safe fixes
format: $(DEV)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

## bench: compare kit.engine with third-party engines (installs the bench extra)
bench: $(BENCH)
	$(BIN)/python benchmarks/run_all.py

## clean: caches and build output (keeps .venv; `rm -rf .venv` to rebuild it)
clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
