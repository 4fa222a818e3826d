# Two commands from a fresh clone: `make run` and `make test`. Each creates .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench demo screenshots clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# needs wrk (Debian: apt-get install wrk) and taskset; PostgreSQL for its rows
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

demo: $(STAMP)
	$(BIN)/gateway demo

# The console's pages as docs/console.md shows them, taken by its browser tests.
screenshots: $(STAMP)
	ZJX_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q tests/console/test_browser.py -k sqlite

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
