"""What the gate refuses, and what a refused or partial build stores: nothing.

* A bad input file, even one only reports read (the benchmark), fails the
  build and publishes nothing; the stored run stays as it was.
* A scaled run may read its baseline's published layers
  (reuse_baseline_layers) only when the baseline was built with the same
  configuration; a build that leaves the unscaled layers out without
  reading them is not published.
* A window outside the data, and weights without prices, are refused with the
  run, file, dates or symbols named.
* Commands that write nothing (compile, show, docs) need no complete build.

The transactional guarantee itself (kill -9, disk full, injection, a second
writer) is tests/integration/test_faults.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from allocator.database import use_published_schemas
from tests.conftest import FIXTURE_INPUTS, InProcessDbt, run_dbt, tiny_vars

FIXTURES = FIXTURE_INPUTS


def scaled_vars(run_id: str, baseline: str, **overrides: Any) -> dict[str, Any]:
    return tiny_vars(
        run_id,
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": baseline},
        **overrides,
    )


def stored(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        use_published_schemas(con)
        return con.execute(sql).fetchall()


def run_snapshot(db: Path, run_id: str) -> list[tuple]:
    return stored(
        db,
        f"select (select config_hash from runs where run_id = '{run_id}'), "
        f"(select count(*) from portfolio_returns_unscaled where run_id = '{run_id}'), "
        f"(select count(*) from weights_raw where run_id = '{run_id}')",
    )


@pytest.fixture(scope="module")
def tiny_db(tiny_book: InProcessDbt, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baseline 'a' of the tiny book, fully built and published."""
    return tiny_book.copy(tmp_path_factory.mktemp("integrity")).db_path


def test_bad_benchmark_file_publishes_nothing(tiny_db: Path) -> None:
    before = run_snapshot(tiny_db, "a")
    bad = FIXTURES / "duplicate_row.csv"
    # another benchmark is another input: rebuilding run 'a' so needs replace_run
    result = run_dbt(["build"], tiny_db, tiny_vars("a", benchmark_path=str(bad), replace_run=True))
    assert result.returncode != 0
    assert f"benchmark file '{bad}'" in result.stdout
    assert "Run not published" in result.stdout
    assert run_snapshot(tiny_db, "a") == before


def test_reuse_needs_the_baselines_configuration(tiny_db: Path) -> None:
    """Reading another configuration's layers would misprice the scaled run."""
    before = run_snapshot(tiny_db, "a")
    result = run_dbt(
        ["build", "--exclude", "tag:unscaled"],
        tiny_db,
        # the same window (another is refused first, by the window rule), another regime
        scaled_vars("s", "a", allocator_regime_min_days=7, reuse_baseline_layers=True),
    )
    assert result.returncode != 0
    assert "var reuse_baseline_layers: baseline 'a' was built with another configuration" in (
        result.stdout
    )
    assert "min_days" in result.stdout
    assert run_snapshot(tiny_db, "a") == before
    assert stored(tiny_db, "select count(*) from runs where run_id = 's'") == [(0,)]


def test_reused_layers_equal_the_baselines(tiny_db: Path) -> None:
    result = run_dbt(
        ["build", "--exclude", "tag:unscaled"],
        tiny_db,
        scaled_vars("s_reuse", "a", reuse_baseline_layers=True),
    )
    assert result.returncode == 0, result.stdout[-3000:]
    differing = stored(
        tiny_db,
        "select count(*) from (select * exclude (run_id) from portfolio_returns_unscaled "
        "where run_id = 'a' except select * exclude (run_id) from portfolio_returns_unscaled "
        "where run_id = 's_reuse')",
    )
    assert differing == [(0,)]
    assert stored(
        tiny_db, "select unscaled_layers_from_run_id from runs where run_id = 's_reuse'"
    ) == [("a",)]


def test_leaving_the_unscaled_layers_out_without_reading_them_publishes_nothing(
    tiny_db: Path,
) -> None:
    result = run_dbt(["build", "--exclude", "tag:unscaled"], tiny_db, scaled_vars("s2", "a"))
    assert result.returncode != 0
    assert "Run not published (this invocation did not build" in result.stdout
    assert stored(tiny_db, "select count(*) from runs where run_id = 's2'") == [(0,)]


def test_a_window_outside_the_data_is_refused(tiny_db: Path) -> None:
    result = run_dbt(["build"], tiny_db, tiny_vars("w", start="2021-02-01", end="2021-03-01"))
    assert result.returncode != 0
    assert "run 'w': the window 2021-02-01 to 2021-03-01 lies outside the prices file" in (
        result.stdout
    )
    assert "which covers 2021-01-04 to 2021-01-11" in result.stdout
    assert f"prices file '{FIXTURES / 'tiny_prices.csv'}'" in result.stdout


def test_weights_without_prices_are_refused(tiny_db: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights.csv"
    weights.write_text(
        (FIXTURES / "tiny_weights.csv").read_text()
        + "2021-01-05,ZZZ,0.1,core\n2021-01-05,YYY,0.0,core\n"
    )
    result = run_dbt(["build"], tiny_db, tiny_vars("o", weights_path=str(weights)))
    assert result.returncode != 0
    assert "holds symbol(s) with no prices in the prices file" in result.stdout
    assert ": ZZZ." in result.stdout  # a zero weight is no holding


def test_commands_that_write_nothing_need_no_complete_build(tiny_db: Path) -> None:
    result = run_dbt(["compile", "-s", "runs"], tiny_db, tiny_vars("a"))
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_window_without_enough_history_is_refused(tiny_db: Path) -> None:
    """The built-in sleeves need their lookbacks of history before start."""
    result = run_dbt(
        ["build"],
        tiny_db,
        tiny_vars("h", weights_path="", start="2021-01-06", end="2021-01-11"),
    )
    assert result.returncode != 0
    assert "run 'h': the prices file" in result.stdout
    assert "has 2 sessions before start 2021-01-06; the strategy needs 312" in result.stdout
    assert "Run not published" in result.stdout


def test_a_one_day_window_is_refused(tiny_db: Path) -> None:
    result = run_dbt(["build"], tiny_db, tiny_vars("d", start="2021-01-11", end="2021-01-11"))
    assert result.returncode != 0
    assert "holds 1 session(s) of the prices file" in result.stdout
    assert "a run needs at least 2 (a return needs two closes)" in result.stdout


def test_precomputed_scalars_that_miss_the_runs_rebalances_are_refused(
    tiny_db: Path, tmp_path: Path
) -> None:
    scalars = tmp_path / "scalars.csv"
    scalars.write_text("rebalance_date,risk_scalar_applied\n2019-01-31,0.5\n2019-02-28,0.5\n")
    result = run_dbt(
        ["build"],
        tiny_db,
        tiny_vars(
            "f",
            allocator_v1={
                "enabled": True,
                "mode": "precomputed",
                "precomputed_scalar_filename": str(scalars),
            },
        ),
    )
    assert result.returncode != 0
    assert f"the precomputed scalars of {scalars} match 0 of the run's" in result.stdout
    assert "at least 90.0% must match" in result.stdout


def test_dbt_run_publishes_nothing(tiny_db: Path) -> None:
    """dbt run builds without the data tests: a run is stored only tested."""
    before = run_snapshot(tiny_db, "a")
    result = run_dbt(["run"], tiny_db, tiny_vars("a", allocator_regime_min_days=7))
    assert result.returncode != 0
    assert "Run not published: dbt run builds without the data tests" in result.stdout
    assert run_snapshot(tiny_db, "a") == before


def test_the_registry_counts_the_tests_a_run_passed(tiny_db: Path) -> None:
    (tested,) = stored(tiny_db, "select data_tests_passed from runs where run_id = 'a'")[0]
    assert tested > 100
