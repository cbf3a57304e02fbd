"""A stored run is protected and judged on its own.

* A bad input file fails a rebuild before any run-keyed table is touched,
  even a file that only reports read (the benchmark).
* Data tests judge the run being built: a bad row stored by another run does
  not fail it.
* Copying a baseline's unscaled layers (reuse_baseline_layers) is refused
  unless the build right before was that baseline, and a build that leaves
  the unscaled layers out must copy them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import FIXTURE_INPUTS, run_dbt, tiny_vars

FIXTURES = FIXTURE_INPUTS


def scaled_vars(run_id: str, baseline: str, **overrides: Any) -> dict[str, Any]:
    return tiny_vars(
        run_id,
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": baseline},
        **overrides,
    )


def stored(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def run_snapshot(db: Path, run_id: str) -> list[tuple]:
    return stored(
        db,
        f"select (select config_hash from runs where run_id = '{run_id}'), "
        f"(select count(*) from portfolio_returns_unscaled where run_id = '{run_id}'), "
        f"(select count(*) from weights_raw where run_id = '{run_id}')",
    )


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baseline 'a' of the tiny book, fully built."""
    db = tmp_path_factory.mktemp("integrity") / "tiny.duckdb"
    result = run_dbt(["build"], db, tiny_vars("a"))
    assert result.returncode == 0, result.stdout[-3000:]
    return db


def test_bad_benchmark_file_leaves_the_stored_run_whole(tiny_db: Path) -> None:
    before = run_snapshot(tiny_db, "a")
    assert before[0][1] == 4
    bad = FIXTURES / "non_numeric_close.csv"
    result = run_dbt(["build"], tiny_db, tiny_vars("a", end="2021-01-08", benchmark_path=str(bad)))
    assert result.returncode != 0
    assert f"benchmark file '{bad}'" in result.stdout, result.stdout[-3000:]
    # the shorter window was never written: the gate waited for every input
    assert run_snapshot(tiny_db, "a") == before


def test_data_tests_judge_only_the_run_being_built(
    tiny_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("judged") / "copy.duckdb"
    db.write_bytes(tiny_db.read_bytes())
    with duckdb.connect(str(db)) as con:
        con.execute("update weights_raw set weight = null where run_id = 'a'")
    other = run_dbt(["build"], db, tiny_vars("b"))
    assert other.returncode == 0, other.stdout[-3000:]
    again = run_dbt(["test", "-s", "weights_raw"], db, tiny_vars("a"))
    assert again.returncode != 0
    assert "not_null_weights_raw_weight" in again.stdout


def test_reuse_needs_the_baseline_built_right_before(
    tiny_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("reuse") / "copy.duckdb"
    db.write_bytes(tiny_db.read_bytes())
    # another book built after the baseline: its unkeyed tables are in place
    other = run_dbt(["build"], db, tiny_vars("c", start="2021-01-07"))
    assert other.returncode == 0, other.stdout[-3000:]
    pass_2 = ["build", "--exclude", "tag:unscaled", "resource_type:seed"]
    refused = run_dbt(pass_2, db, scaled_vars("s", "a", reuse_baseline_layers=True))
    assert refused.returncode != 0
    assert (
        "run 's': reuse_baseline_layers reads the unkeyed tables (staging, int_*) that the "
        "last build left, so it must follow a build of baseline 'a'" in refused.stdout
    )
    assert "the last build was run 'c'" in refused.stdout
    assert stored(db, "select count(*) from weights_raw where run_id = 's'") == [(0,)]

    rebuilt = run_dbt(["build"], db, tiny_vars("a"))
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    # rebuilding the Python models leaves no dbt-duckdb temp table behind
    assert (
        stored(
            db, "select table_name from information_schema.tables where table_name like '%dbt_tmp%'"
        )
        == []
    )
    copied = run_dbt(pass_2, db, scaled_vars("s", "a", reuse_baseline_layers=True))
    assert copied.returncode == 0, copied.stdout[-3000:]
    assert stored(
        db, "select unscaled_layers_from_run_id, start_date from runs where run_id = 's'"
    ) == stored(db, "select 'a', start_date from runs where run_id = 'a'")


def test_leaving_the_unscaled_layers_out_needs_the_copy(
    tiny_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("selection") / "copy.duckdb"
    db.write_bytes(tiny_db.read_bytes())
    stale = run_dbt(["build", "--exclude", "tag:unscaled"], db, scaled_vars("s", "a"))
    assert stale.returncode != 0
    assert "run 's': this build writes the run's configuration (stg_run_config) but leaves out" in (
        stale.stdout
    )
    recomputed = run_dbt(["build"], db, scaled_vars("s", "a", reuse_baseline_layers=True))
    assert recomputed.returncode != 0
    assert (
        "run 's': reuse_baseline_layers copies the `unscaled` layers from baseline 'a', but this "
        "build also selects" in recomputed.stdout
    )
    assert stored(db, "select count(*) from runs where run_id = 's'") == [(0,)]


def test_a_window_outside_the_data_is_refused(tiny_db: Path) -> None:
    result = run_dbt(["build"], tiny_db, tiny_vars("late", start="2022-01-03", end="2022-02-01"))
    assert result.returncode != 0
    assert (
        "run 'late': the window starts 2022-01-03, outside the prices file "
        f"'{FIXTURES / 'tiny_prices.csv'}', which covers 2021-01-04 to 2021-01-11" in result.stdout
    )
    assert stored(tiny_db, "select count(*) from weights_raw where run_id = 'late'") == [(0,)]


def test_weights_without_prices_are_refused(tiny_db: Path, tmp_path: Path) -> None:
    weights = tmp_path / "orphan_weights.csv"
    # a zero weight on an unpriced symbol holds nothing: only ZZZZ is named
    weights.write_text(
        "date,symbol,weight\n2021-01-05,AAA,0.5\n2021-01-05,ZZZZ,0.5\n2021-01-05,YYYY,0\n"
    )
    result = run_dbt(["build"], tiny_db, tiny_vars("orphan", weights_path=str(weights)))
    assert result.returncode != 0
    assert f"run 'orphan': weights file '{weights}' holds symbol(s) with no prices" in result.stdout
    assert "ZZZZ" in result.stdout and "YYYY" not in result.stdout
    assert stored(tiny_db, "select count(*) from weights_raw where run_id = 'orphan'") == [(0,)]


def test_commands_that_write_nothing_skip_the_build_checks(tiny_db: Path) -> None:
    """compile, show and docs generate do not judge stored tables: with the
    project's default vars (the demo files) the tiny book's staging tables
    would fail the coverage and selection checks, wrongly."""
    compiled = run_dbt(["compile", "-s", "stg_run_config"], tiny_db)
    assert compiled.returncode == 0, compiled.stdout[-3000:]
    shown = run_dbt(["show", "-s", "stg_run_config"], tiny_db)
    assert shown.returncode == 0, shown.stdout[-3000:]
