"""marts.run_risk_metrics against empyrical-reloaded, to 1e-10.

The mart computes Sortino, Calmar, skew, kurtosis, VaR and CVaR in SQL
(macros/risk_metrics.sql); empyrical (and scipy, for skew and kurtosis as
pyfolio reports them) computes the same figures from the published daily
returns independently. Both series are read back from the published tables,
so the test checks the SQL, not the data.
"""

from __future__ import annotations

from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.integration.conftest import AllocatorProject

TOLERANCE = 1e-10


def _series(project: AllocatorProject, sql: str, run_id: str) -> pd.Series:
    frame = project.frame(sql, [run_id])
    return frame.set_index("date").iloc[:, 0]


def _expected(returns: pd.Series, prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}sortino": empyrical.sortino_ratio(returns),
        f"{prefix}calmar": empyrical.calmar_ratio(returns),
        f"{prefix}skew": stats.skew(returns),
        f"{prefix}kurtosis": stats.kurtosis(returns),
        f"{prefix}value_at_risk_95": empyrical.value_at_risk(returns, cutoff=0.05),
        f"{prefix}conditional_value_at_risk_95": empyrical.conditional_value_at_risk(
            returns, cutoff=0.05
        ),
    }


def _mart_row(project: AllocatorProject, run_id: str) -> dict[str, Any]:
    frame = project.frame("select * from marts.run_risk_metrics where run_id = ?", [run_id])
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def _assert_close(row: dict[str, Any], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert row[name] == pytest.approx(float(value), abs=TOLERANCE, rel=TOLERANCE), name


@pytest.mark.parametrize("run", ["base", "pre"])
def test_risk_metrics_equal_empyrical(allocator_project: AllocatorProject, run: str) -> None:
    run_id = allocator_project.run(run)
    book = _series(
        allocator_project,
        "select date, portfolio_return from marts.portfolio_returns where run_id = ? order by date",
        run_id,
    )
    benchmark = _series(
        allocator_project,
        "select date, benchmark_return from artifacts.benchmark_returns "
        "where run_id = ? order by date",
        run_id,
    )
    row = _mart_row(allocator_project, run_id)
    assert row["return_days"] == len(book) > 1000
    assert row["benchmark_return_days"] == len(benchmark) > 1000
    expected = {
        **_expected(book),
        "downside_vol": empyrical.downside_risk(book),
        **_expected(benchmark, "benchmark_"),
        "benchmark_downside_vol": empyrical.downside_risk(benchmark),
        "benchmark_cagr": empyrical.annual_return(benchmark),
        "benchmark_ann_vol": empyrical.annual_volatility(benchmark),
        "benchmark_sharpe": empyrical.sharpe_ratio(benchmark),
        "benchmark_max_drawdown": empyrical.max_drawdown(benchmark),
        "beta": empyrical.beta(book, benchmark),
        "correlation": book.corr(benchmark),
    }
    assert np.isfinite([row[k] for k in expected]).all()
    _assert_close(row, expected)


def test_without_a_benchmark_the_benchmark_columns_are_null(
    allocator_project: AllocatorProject,
) -> None:
    run_id = allocator_project.run("nobench")
    row = _mart_row(allocator_project, run_id)
    book = _series(
        allocator_project,
        "select date, portfolio_return from marts.portfolio_returns where run_id = ? order by date",
        run_id,
    )
    _assert_close(row, _expected(book))
    assert row["benchmark_return_days"] == 0
    assert row["benchmark_paired_days"] == 0
    counts = {"benchmark_return_days", "benchmark_paired_days"}
    nulls = [k for k in row if k.startswith("benchmark_") and k not in counts]
    nulls += ["beta", "correlation"]
    assert all(pd.isna(row[k]) for k in nulls), {k: row[k] for k in nulls}
