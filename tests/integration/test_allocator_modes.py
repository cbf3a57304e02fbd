"""Allocator v1 modes on the demo data: off scales nothing, compute applies the
run's own lagged scalars, precomputed applies a baseline's (from its stored run
or from a CSV) and equals compute; a bad configuration fails and writes nothing."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import ALLOCATOR_TABLES, AllocatorProject, result_message

#: Both books are built and priced by the same SQL, but DuckDB may add up a
#: day's positions in a different order from one build to the next (parallel
#: aggregation), which moves the last bits of weights and returns only. The
#: scalars themselves are compared exactly.
SUMMATION_NOISE = 1e-15


def run_rows(project: AllocatorProject, run_id: str) -> dict[str, int]:
    """Rows of ``run_id`` in every table of the database that has a run_id column."""
    with project.connect() as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.columns "
                "where column_name = 'run_id' and table_schema in ('artifacts', 'marts') order by 1"
            ).fetchall()
        ]
        return {
            table: con.execute(
                f'select count(*) from "{table}" where run_id = ?', [run_id]
            ).fetchone()[0]
            for table in tables
        }


def run_fingerprint(project: AllocatorProject, run_id: str) -> dict[str, tuple[int, int]]:
    """(rows, order-independent hash of the rows) of ``run_id`` in each allocator table."""
    with project.connect() as con:
        return {
            table: con.execute(
                f"select count(*), coalesce(sum(hash(t)), 0) from {table} as t where run_id = ?",
                [run_id],
            ).fetchone()
            for table in ALLOCATOR_TABLES
        }


def test_mode_off_computes_everything_but_scales_nothing(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    p = allocator_project
    for table in ALLOCATOR_TABLES:
        (count,) = p.query(f"select count(*) from {table} where run_id = ?", [base_run])[0]
        assert count > 0, f"{table} has no rows for the mode-off run"
    assert p.query(
        "select min(risk_scalar_used), max(risk_scalar_used), min(scalar_source), "
        "max(scalar_source), count(*) filter (where is_missing_filled) "
        "from allocator_scalars_at_rebalances where run_id = ?",
        [base_run],
    ) == [(1.0, 1.0, "none", "none", 0)]
    # the run still computed scalars below 1 for a later precomputed pass
    (below_one,) = p.query(
        "select count(*) from allocator_risk_v1_applied "
        "where run_id = ? and risk_scalar_applied < 1",
        [base_run],
    )[0]
    assert below_one > 10
    assert p.query(
        "select count(*) from weights_scaled where run_id = ? and weight_scaled <> weight_raw",
        [base_run],
    ) == [(0,)]
    ((diff, rows),) = p.query(
        "select max(abs(s.net_return - u.net_return)), count(*) "
        "from portfolio_returns_scaled as s inner join portfolio_returns_unscaled as u "
        "on s.run_id = u.run_id and s.date = u.date where s.run_id = ?",
        [base_run],
    )
    assert rows == 4529
    assert diff <= SUMMATION_NOISE


def test_applied_scalar_is_the_previous_recorded_rebalance_scalar(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    rows = allocator_project.query(
        "select rebalance_date, risk_scalar_computed, risk_scalar_applied, is_missing_filled "
        "from allocator_risk_v1_applied where run_id = ? order by rebalance_date",
        [base_run],
    )
    calendar = allocator_project.query(
        "select count(*) from int_rebalance_calendar where is_recorded_rebalance"
    )[0][0]
    assert len(rows) == calendar == 217
    previous = None
    for _, computed, applied, filled in rows:
        if previous is None:
            assert (applied, filled) == (1.0, True)
        else:
            assert (applied, filled) == (previous, False)
        previous = computed
    # the state warms up on the 59 sessions before start, so the risk series
    # starts on the window's first session: only the opening rebalance (the
    # session before start) has no computed scalar
    assert [r[1] is None for r in rows[:4]] == [True, False, False, False]
    risk = dict(
        allocator_project.query(
            "select date, risk_scalar from allocator_risk_v1 where run_id = ?", [base_run]
        )
    )
    assert all(computed == risk.get(day) for day, computed, _, _ in rows if computed is not None)


def test_compute_mode_applies_its_own_lagged_scalars(allocator_project: AllocatorProject) -> None:
    p = allocator_project
    run = p.run("cmp")
    assert p.query(
        "select count(*) from allocator_scalars_at_rebalances "
        "where run_id = ? "
        "and (risk_scalar_used <> risk_scalar_applied or scalar_source <> 'computed')",
        [run],
    ) == [(0,)]
    assert p.query(
        "select count(*) from weights_scaled where run_id = ? "
        "and weight_scaled <> weight_raw * risk_scalar_used",
        [run],
    ) == [(0,)]
    (scaled,) = p.query(
        "select count(*) from allocator_scalars_at_rebalances "
        "where run_id = ? and risk_scalar_used < 1",
        [run],
    )[0]
    assert scaled > 10


def book_figures(project: AllocatorProject, table: str, run_id: str) -> tuple[float, float]:
    """MaxDD (wealth from 1.0) and Sharpe (rf 0, ddof 1, x sqrt 252) of a
    book's daily net returns, in plain Python: not the marts' SQL."""
    returns = [
        row[0]
        for row in project.query(
            f"select net_return from {table} where run_id = ? order by date", [run_id]
        )
    ]
    wealth, peak, worst = 1.0, 1.0, 0.0
    for value in returns:
        wealth *= 1.0 + value
        peak = max(peak, wealth)
        worst = min(worst, wealth / peak - 1.0)
    mean = sum(returns) / len(returns)
    sd = (sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)) ** 0.5
    return worst, mean / sd * 252**0.5


def test_the_seeds_calibration_reproduces_the_demo_figures(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    """Calibration seeds_v1 (cadence rebalance_lagged by its own default)
    gives the demo figures published before calibrations existed: baseline
    MaxDD -19.13% / Sharpe 0.778, scaled -18.34% / 0.770, 71 of 217
    rebalances below 0.99 (README; the governor study reproduced them from
    the stored demo run independently, benchmarks/governor_study)."""
    p = allocator_project
    run = p.run("seeds")
    ((config,),) = p.query("select config_json from runs where run_id = ?", [run])
    config = json.loads(config)
    assert config["allocator_v1"]["cadence"] == "rebalance_lagged"
    assert config["regime_calibration"]["name"] == "seeds_v1"
    base_dd, base_sharpe = book_figures(p, "portfolio_returns_unscaled", base_run)
    assert (round(base_dd, 4), round(base_sharpe, 3)) == (-0.1913, 0.778)
    scaled_dd, scaled_sharpe = book_figures(p, "portfolio_returns_scaled", run)
    assert (round(scaled_dd, 4), round(scaled_sharpe, 3)) == (-0.1834, 0.770)
    # the marts say the same
    ((mart_dd, mart_sharpe),) = p.query(
        "select max_drawdown, sharpe from run_metrics where run_id = ?", [run]
    )
    assert (mart_dd, mart_sharpe) == (
        pytest.approx(scaled_dd, abs=1e-12),
        pytest.approx(scaled_sharpe, abs=1e-12),
    )
    assert p.query(
        "select count(*), count(*) filter (where risk_scalar_used < 0.99) "
        "from allocator_scalars_at_rebalances where run_id = ?",
        [run],
    ) == [(217, 71)]


@pytest.mark.parametrize("precomputed_run", ["pre", "pre_file"])
def test_compute_equals_precomputed_against_a_baseline(
    allocator_project: AllocatorProject, precomputed_run: str
) -> None:
    """Compute mode and precomputed mode (from the stored baseline run, or from
    its exported CSV) apply the same scalars and give the same scaled book."""
    p = allocator_project
    compute = p.run("cmp")
    precomputed = p.run(precomputed_run)
    used = p.query(
        "select c.rebalance_date, c.risk_scalar_used, x.risk_scalar_used, x.scalar_source "
        "from allocator_scalars_at_rebalances as c "
        "full join allocator_scalars_at_rebalances as x "
        "on c.rebalance_date = x.rebalance_date and x.run_id = ? "
        "where c.run_id = ? order by 1",
        [precomputed, compute],
    )
    assert len(used) == 217
    assert all(c == x for _, c, x, _ in used), "scalars used differ"
    assert {source for *_, source in used} == {
        "precomputed:base"
        if precomputed_run == "pre"
        else "precomputed:" + str(p.work_dir / "base_applied_scalars.csv")
    }
    ((weights, weight_diff),) = p.query(
        "select count(*), max(abs(c.weight_scaled - x.weight_scaled)) "
        "from weights_scaled as c inner join weights_scaled as x "
        "using (rebalance_date, symbol) where c.run_id = ? and x.run_id = ?",
        [compute, precomputed],
    )
    assert weights > 4000
    assert weight_diff <= SUMMATION_NOISE
    ((rows, diff, turnover_diff),) = p.query(
        "select count(*), max(abs(c.net_return - x.net_return)), max(abs(c.turnover - x.turnover)) "
        "from portfolio_returns_scaled as c inner join portfolio_returns_scaled as x using (date) "
        "where c.run_id = ? and x.run_id = ?",
        [compute, precomputed],
    )
    assert rows == 4529
    assert diff <= SUMMATION_NOISE
    assert turnover_diff <= SUMMATION_NOISE


def test_precomputed_meta_names_its_source(allocator_project: AllocatorProject) -> None:
    run = allocator_project.run("pre")
    parameters, present, missing = allocator_project.query(
        "select parameters, features_present, features_missing "
        "from allocator_risk_v1_applied_meta where run_id = ?",
        [run],
    )[0]
    parameters = json.loads(parameters)
    assert parameters["mode"] == "precomputed"
    assert parameters["precomputed_source"] == "base"
    assert parameters["precomputed_source_kind"] == "run"
    assert parameters["lag_rebalances"] == 1
    assert parameters["used_missing_filled_rebalances"] == 0
    assert json.loads(present) == ["risk_scalar"]
    assert json.loads(missing) == {}


BAD_CONFIGURATIONS = {
    "invalid_mode": (
        {"allocator_v1": {"enabled": True, "mode": "turbo"}},
        "var allocator_v1.mode: 'turbo' is not valid",
    ),
    "missing_run": (
        {"allocator_v1": {"enabled": True, "mode": "precomputed", "precomputed_run_id": "nope"}},
        "var allocator_v1.precomputed_run_id: 'nope' is not a stored run",
    ),
    "missing_file": (
        {
            "allocator_v1": {
                "enabled": True,
                "mode": "precomputed",
                "precomputed_scalar_filename": "/nonexistent/allocator_risk_v1_applied.csv",
            }
        },
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGURATIONS))
def test_bad_configuration_fails_and_writes_nothing(
    allocator_project: AllocatorProject, base_run: str, case: str
) -> None:
    p = allocator_project
    dbt_vars, message = BAD_CONFIGURATIONS[case]
    failing_run = f"bad_{case}"
    before = run_fingerprint(p, base_run)
    result = p.invoke(
        ["build", "--select", "+models/allocator"], {"run_id": failing_run, **dbt_vars}
    )
    assert not result.success
    assert message in result_message(result)
    written = {table: rows for table, rows in run_rows(p, failing_run).items() if rows}
    assert written == {}, f"the failing run wrote rows: {written}"
    assert run_fingerprint(p, base_run) == before, "an existing run was modified"


def test_malformed_scalar_file_fails_and_writes_nothing(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    p = allocator_project
    path = p.work_dir / "bad_scalars.csv"
    path.write_text("rebalance_date,risk_scalar_applied\n2010-01-29,0.5\n2010-02-26,1.5\n")
    before = run_fingerprint(p, base_run)
    result = p.invoke(
        ["build", "--select", "+models/exposure"],
        {
            "run_id": "bad_file_content",
            "allocator_v1": {
                "enabled": True,
                "mode": "precomputed",
                "precomputed_scalar_filename": str(path),
            },
        },
    )
    assert not result.success
    assert "date 2010-02-26: risk_scalar_applied 1.5 is not in (0, 1]" in result_message(result)
    # the scalars' staging model names the file's bad row; nothing is published
    written = {table: rows for table, rows in run_rows(p, "bad_file_content").items() if rows}
    assert written == {}, f"the failing run wrote rows: {written}"
    assert run_fingerprint(p, base_run) == before
