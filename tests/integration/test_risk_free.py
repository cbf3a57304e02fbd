"""The risk-free rate of Sharpe and Sortino (issue 22), in the SQL
definitions (macros/book_metrics.sql, macros/risk_metrics.sql): a run with
a file of annual rates against empyrical, fed the same daily rates."""

from __future__ import annotations

from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from tests.integration.conftest import NO_TESTS, AllocatorProject, result_message

RUN_ID = "rf_series"
SESSIONS_PER_YEAR = 252


def test_sharpe_and_sortino_measure_excess_returns_over_a_rate_series(
    allocator_project: AllocatorProject, tmp_path: Path
) -> None:
    rates = tmp_path / "t_bills.csv"
    # 1% until the end of 2015, then 3%; the first rate also covers dates before it
    rates.write_text("date,rate\n2015-02-02,0.01\n2016-01-04,0.03\n")
    result = allocator_project.invoke(
        ["build", *NO_TESTS],
        {
            "run_id": RUN_ID,
            "strategy_profile": "trend_only_v1",
            "start": "2015-01-02",
            "end": "2016-12-30",
            "risk_free_path": str(rates),
        },
    )
    assert result.success, result_message(result)
    daily = allocator_project.frame(
        "select date, portfolio_return from marts.portfolio_returns where run_id = ? order by date",
        [RUN_ID],
    ).set_index("date")["portfolio_return"]
    annual = np.where(pd.to_datetime(daily.index) < pd.Timestamp("2016-01-04"), 0.01, 0.03)
    risk_free = pd.Series((1 + annual) ** (1 / SESSIONS_PER_YEAR) - 1, index=daily.index)
    metrics = allocator_project.frame(
        "select m.sharpe, r.sortino from marts.run_metrics m "
        "join marts.run_risk_metrics r using (run_id) where run_id = ?",
        [RUN_ID],
    ).iloc[0]
    assert metrics["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(daily, risk_free=risk_free), abs=1e-10
    )
    assert metrics["sortino"] == pytest.approx(
        empyrical.sortino_ratio(daily, required_return=risk_free), abs=1e-10
    )
    # and it is not the zero-rate figure
    assert abs(metrics["sharpe"] - empyrical.sharpe_ratio(daily)) > 0.01
    config = allocator_project.query(
        "select config_json from marts.runs where run_id = ?", [RUN_ID]
    )
    assert str(rates) in config[0][0]
