# Two commands, each setting itself up on a fresh machine:
#   make demo   build the demo run on the bundled data and print where results are
#   make test   ruff, pytest (incl. every dbt test on the demo data); it prints
#               the 30 slowest tests, where to look when the suite grows
#               (what the suite's time goes to: docs/performance.md)
#   make lint   the SQL and dbt linters (sqlfluff, dbt-score); CI runs it too
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/allocator demo

test: export ALLOCATOR_SKIP_INSTALL_TEST :=
test: $(STAMP)
	bash scripts/install_chromium.sh
	$(BIN)/ruff check python tests benchmarks data
	$(BIN)/ruff format --check python tests benchmarks data
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q --durations=30

# Part of make test; alone while editing SQL. sqlfluff parses every rendered
# model (about 2 CPU-minutes). docs/linting.md.
lint: $(STAMP)
	$(BIN)/sqlfluff lint models macros analyses tests/singular tests/generic --processes 2
	$(BIN)/dbt parse --quiet
	$(BIN)/dbt-score lint --manifest target/manifest.json

clean:
	rm -rf target logs reports allocator.duckdb $(VENV)
