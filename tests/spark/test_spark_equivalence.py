"""The models that build on the spark target equal DuckDB's (docs/spark.md).

The demo baseline's selection below builds on Spark (dbt-spark in session
mode, in a subprocess: a JVM and dbt-spark's adapter stay out of the suite's
process) and on DuckDB from the same vars and files; every table must hold
the same rows, keys and values, floats to 1e-9. The Spark tables are read
from their Parquet files, so the comparison needs no Spark session.

Runs when ALLOCATOR_SPARK_TESTS=1 and then fails, not skips, without Java or
pyspark (pip install -e '.[spark]'); otherwise it is skipped with that
reason, shown in the suite's summary.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from allocator import dbt_invoke, workflow
from tests.conftest import PROJECT_DIR, dbt_command, run_dbt

RUN_VARIABLE = "ALLOCATOR_SPARK_TESTS"
#: The models that build on Spark so far, in flow order (docs/spark.md).
SPARK_MODELS: tuple[str, ...] = (
    "stg_run__vars",
    "stg_run_config",
    "stg_run__risk_free_rates",
    "stg_live__update",
    "stg_market__prices",
    "stg_market__closes",
    "stg_market__sessions",
    "stg_market__returns",
    "stg_market__benchmark_returns",
    "stg_portfolio__returns",
    "stg_portfolio__weights",
    "stg_run__input_fingerprints",
    "int_run_coverage",
    "int_rebalance_calendar",
)
#: Built on both, compared by shape only: a row fingerprint is each engine's
#: own hash (macros/engine.sql, spark__fingerprint_rows).
ENGINE_SPECIFIC = frozenset({"stg_run__input_fingerprints"})
#: When and by which invocation a row was written differs between any two builds.
VOLATILE = frozenset({"created_at", "dbt_invocation_id"})
TOLERANCE = 1e-9

pytestmark = pytest.mark.skipif(
    os.environ.get(RUN_VARIABLE) != "1",
    reason=f"Spark equivalence runs with {RUN_VARIABLE}=1 (needs Java 17 and '.[spark]')",
)


def demo_vars(work: Path) -> dict[str, Any]:
    """The demo baseline's vars, as the CLI builds it, not published, with
    its benchmark read from a folder whose name holds a quote: the path
    reaches Spark as a literal twice (the vars' JSON in stg_run__vars, the
    input table's DDL), and stg_run_config must hold it as DuckDB does. (A
    backslash is refused on Spark, which reads a path as a glob pattern:
    tests/python/test_sql_literals.py.)"""
    folder = work / "it's a folder"
    benchmark = folder / "sp500_index.parquet"
    if not benchmark.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / "data" / "demo" / "sp500_index.parquet", benchmark)
    return {
        **dbt_invoke.run_vars(
            workflow.DEMO_BASELINE_RUN_ID,
            workflow.DEMO_PROFILE,
            workflow.DEMO_START.isoformat(),
            workflow.DEMO_END.isoformat(),
        ),
        "benchmark_path": str(benchmark),
        "publish_run": False,
    }


def require_spark() -> None:
    """Fail with what is missing: asked to run, the test must not skip."""
    missing = [
        name for name in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.fail(f"{RUN_VARIABLE}=1 but {', '.join(missing)} missing: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.fail(f"{RUN_VARIABLE}=1 but no java on PATH: install a JDK 17")


def spark_build(work: Path) -> float:
    """Build SPARK_MODELS on Spark in a subprocess; returns its seconds."""
    env = {
        **os.environ,
        "ALLOCATOR_SPARK_DIR": str(work / "spark"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        sys.executable,
        "-m",
        "allocator.spark_gate",
        "--vars",
        json.dumps(demo_vars(work)),
        "--select",
        *SPARK_MODELS,
        *dbt_command([], work / "spark-dbt"),
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return time.monotonic() - started


def duckdb_build(work: Path) -> float:
    """Build the same models (and the gate's Python model) on DuckDB."""
    database = work / "duck.duckdb"
    started = time.monotonic()
    for args in (["seed"], ["build", "--select", "stg_run__resolved", *SPARK_MODELS]):
        done = run_dbt(args, database, demo_vars(work), work / "duck-dbt")
        assert done.returncode == 0, done.stdout[-4000:]
    return time.monotonic() - started


def spark_rows(work: Path, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    folder = work / "spark" / "warehouse" / "build.db" / model
    with duckdb.connect() as con:
        relation = con.sql(f"select * from read_parquet('{folder}/*.parquet')")
        return relation.columns, relation.fetchall()


def duckdb_rows(work: Path, model: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with duckdb.connect(str(work / "duck.duckdb"), read_only=True) as con:
        relation = con.sql(f"select * from build.{model}")
        return relation.columns, relation.fetchall()


def comparable(columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple]]:
    """The rows without the volatile columns, sorted by their non-float values."""
    keep = [i for i, name in enumerate(columns) if name not in VOLATILE]
    kept = [tuple(row[i] for i in keep) for row in rows]
    kept.sort(key=lambda row: tuple((v is None, str(v)) for v in row if not isinstance(v, float)))
    return [columns[i] for i in keep], kept


def differences(model: str, spark: tuple, duck: tuple) -> list[str]:
    """What differs between the two tables of ``model``, one line each (at most 5)."""
    spark_columns, spark_table = comparable(*spark)
    duck_columns, duck_table = comparable(*duck)
    if spark_columns != duck_columns:
        return [f"{model}: columns {spark_columns} on Spark, {duck_columns} on DuckDB"]
    if len(spark_table) != len(duck_table):
        return [f"{model}: {len(spark_table)} rows on Spark, {len(duck_table)} on DuckDB"]
    if model in ENGINE_SPECIFIC:
        return []
    found: list[str] = []
    for spark_row, duck_row in zip(spark_table, duck_table, strict=True):
        for name, a, b in zip(spark_columns, spark_row, duck_row, strict=True):
            if not same(a, b):
                found.append(f"{model}.{name}: {a!r} on Spark, {b!r} on DuckDB")
                if len(found) == 5:
                    return found
    return found


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= TOLERANCE * max(1.0, abs(b))
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return a == b
    return a == b


def test_spark_builds_what_duckdb_builds(tmp_path: Path) -> None:
    require_spark()
    spark_seconds = spark_build(tmp_path)
    duckdb_seconds = duckdb_build(tmp_path)
    problems: list[str] = []
    rows = 0
    for model in SPARK_MODELS:
        spark, duck = spark_rows(tmp_path, model), duckdb_rows(tmp_path, model)
        rows += len(duck[1])
        problems += differences(model, spark, duck)
    print(
        f"{len(SPARK_MODELS)} models, {rows} rows: Spark build {spark_seconds:.1f} s, "
        f"DuckDB build {duckdb_seconds:.1f} s"
    )
    assert rows > 0
    assert not problems, "\n".join(problems)
    # the path with the quote and the backslash came through whole, and was read
    config_columns, config_rows = spark_rows(tmp_path, "stg_run_config")
    assert (
        config_rows[0][config_columns.index("benchmark_path")]
        == demo_vars(tmp_path)["benchmark_path"]
    )
    assert spark_rows(tmp_path, "stg_market__benchmark_returns")[1]
