"""Shared test helpers: run dbt against a throwaway DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")

# dbt unit tests are off in a user's build (dbt_project.yml) and on in the
# suite: every dbt call the tests make, in-process or not, runs them.
os.environ.setdefault("ALLOCATOR_UNIT_TESTS", "true")


def run_dbt(
    args: Sequence[str],
    db_path: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command in a subprocess on its own database and target dir.

    A subprocess keeps dbt-duckdb's connection state out of the test process,
    and the per-call target/log paths let tests run beside a developer's dbt.
    """
    work_dir = work_dir or db_path.parent
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


FIXTURE_INPUTS = PROJECT_DIR / "tests" / "fixtures" / "inputs"


def tiny_vars(run_id: str, **overrides: Any) -> dict[str, Any]:
    """dbt vars of the tiny hand-checkable book: two symbols, own weights,
    2021-01-06 to 2021-01-11; keyword arguments replace any of them."""
    return {
        "run_id": run_id,
        "prices_path": str(FIXTURE_INPUTS / "tiny_prices.csv"),
        "benchmark_path": "",
        "weights_path": str(FIXTURE_INPUTS / "tiny_weights.csv"),
        "start": "2021-01-06",
        "end": "2021-01-11",
        **overrides,
    }


@pytest.fixture
def dbt_db(tmp_path: Path) -> Path:
    """A fresh database path for one test."""
    return tmp_path / "test.duckdb"
