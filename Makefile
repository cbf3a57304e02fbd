# Two commands, each setting itself up on a fresh machine:
#   make demo   build the demo run on the bundled data and print where results are
#   make test   ruff, pytest (incl. every dbt test on the demo data); it prints
#               the 30 slowest tests, where to look when the suite grows
#               (what the suite's time goes to: docs/performance.md); it also
#               builds what builds on Spark and checks it equals DuckDB
#               (tests/spark, docs/spark.md: Java and the [spark] extra).
#               pytest runs on two workers; modules sharing a session build
#               stay on one (tests/conftest.py)
#   make lint   the SQL and dbt linters (sqlfluff, dbt-score); CI runs it too
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the test suite's extra: dbt-spark and pyspark, not needed by make demo
SPARK_STAMP := $(VENV)/.installed-spark

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(SPARK_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/allocator demo

test: export ALLOCATOR_SKIP_INSTALL_TEST :=
test: export ALLOCATOR_SPARK_TESTS := 1
test: $(SPARK_STAMP)
	bash scripts/install_chromium.sh
	bash scripts/install_java.sh
	$(BIN)/ruff check python tests benchmarks data
	$(BIN)/ruff format --check python tests benchmarks data
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q --durations=30 -n 2 --dist loadgroup

# Part of make test; alone while editing SQL. sqlfluff parses every rendered
# model (about 2 CPU-minutes). docs/linting.md.
lint: $(STAMP)
	$(BIN)/sqlfluff lint models macros analyses tests/singular tests/generic --processes 2
	$(BIN)/dbt parse --quiet
	$(BIN)/dbt-score lint --manifest target/manifest.json

clean:
	rm -rf target logs reports allocator.duckdb $(VENV)
