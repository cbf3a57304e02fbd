"""Untrusted text reaches SQL only as a string literal, written by one macro
per engine (macros/quoting.sql) and by its Python twin for SQL built in
Python: run_config.sql_literal on DuckDB, spark_gate.spark_literal on Spark.
The twins must write the same literal as the macros; DuckDB's must read back
as the text itself. (Spark reads its literals back in the Spark equivalence
test, whose run has a quote in an input file's path; a backslash is refused
on Spark, which reads a path as a glob pattern.)"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from allocator.gate import COLUMNS
from allocator.run_config import sql_literal
from allocator.spark_gate import glob_problem, input_ddl, spark_literal, unsupported_problem
from allocator.sql_macros import macro_library

NASTY = [
    "",
    "plain",
    "it's",
    "''",
    "a\\b",
    "ends with a backslash\\",
    "\\'; drop table artifacts.runs; --",
    "' or '1'='1",
    "C:\\data\\it's here.csv",
    "unicode é ✓",
]


@pytest.mark.parametrize("text", NASTY)
def test_python_twins_write_what_the_macros_write(text: str) -> None:
    macros = macro_library()
    assert sql_literal(text) == macros.call("duckdb__sql_literal", text)
    assert spark_literal(text) == macros.call("spark__sql_literal", text)


@pytest.mark.parametrize("text", NASTY)
def test_duckdb_reads_the_literal_back_as_the_text(text: str) -> None:
    with duckdb.connect() as con:
        assert con.execute(f"select {sql_literal(text)}").fetchone()[0] == text


def test_spark_literal_escapes_the_backslash_before_the_quote() -> None:
    # a quote escaped first would have its backslash doubled, closing the literal
    assert spark_literal("a'b") == "'a\\'b'"
    assert spark_literal("a\\'b") == "'a\\\\\\'b'"
    assert spark_literal("x\\") == "'x\\\\'"


def test_an_input_path_is_bound_as_a_literal_never_as_sql(tmp_path) -> None:
    path = str(tmp_path / "it's" / "p.parquet")
    ddl = input_ddl("build", "input__prices", path, ("date", "symbol", "close"))
    assert ddl == (
        f"create table `build`.`input__prices` using parquet options (path {spark_literal(path)})"
    )
    csv = input_ddl("build", "input__prices", str(tmp_path / "p.csv"), ("date",))
    assert "using csv" in csv and "inferSchema 'false'" in csv
    off = input_ddl("build", "input__benchmark", "", ("date", "close"))
    assert off.startswith("create view `build`.`input__benchmark` as select ")
    assert off.endswith(" where false")


def test_the_spark_gate_refuses_live_runs_in_one_line() -> None:
    problem = unsupported_problem('{"run_id": "prod", "live": true}')
    assert problem == "run 'prod': var live: live runs do not build on the spark target yet"
    assert unsupported_problem('{"run_id": "demo_base", "live": false}') is None


@pytest.mark.parametrize("name", ["a\\b.csv", "*.csv", "p?.csv", "[ab].csv", "x]y.csv"])
def test_the_spark_gate_refuses_a_path_spark_would_read_as_a_pattern(name: str) -> None:
    frame = pd.DataFrame([dict.fromkeys(COLUMNS)], columns=list(COLUMNS), dtype=object)
    frame.loc[0, "weights_path"] = f"/data/{name}"
    problem = glob_problem("r1", frame)
    assert problem is not None and problem.startswith("run 'r1': var weights_path: ")
    assert "file pattern" in problem and "\n" not in problem
    frame.loc[0, "weights_path"] = "/data/it's fine.csv"
    assert glob_problem("r1", frame) is None
