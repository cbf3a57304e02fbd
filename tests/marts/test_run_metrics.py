"""run_metrics (SQL) against an independent pandas computation of the
empyrical conventions on the demo run."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest


def empyrical_metrics(returns: pd.Series) -> dict[str, float]:
    """CAGR, vol, Sharpe, MaxDD, worst month and quarter the empyrical way."""
    years = len(returns) / 252
    wealth = (1 + returns).cumprod()
    # wealth starts at 1.0 before the first return
    peak = pd.concat([pd.Series([1.0]), wealth]).cummax().iloc[1:].set_axis(wealth.index)
    monthly = (1 + returns).groupby(returns.index.to_period("M")).prod() - 1
    quarterly = (1 + returns).groupby(returns.index.to_period("Q")).prod() - 1
    return {
        "cagr": wealth.iloc[-1] ** (1 / years) - 1,
        "ann_vol": returns.std(ddof=1) * math.sqrt(252),
        "sharpe": returns.mean() / returns.std(ddof=1) * math.sqrt(252),
        "max_drawdown": (wealth / peak - 1).min(),
        "worst_month": monthly.min(),
        "worst_quarter": quarterly.min(),
    }


def test_sql_metrics_equal_pandas(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        daily = con.execute(
            "select date, portfolio_return from portfolio_returns where run_id = 'demo' order by date"
        ).df()
        sql = con.execute("select * from run_metrics where run_id = 'demo'").df().iloc[0]
    returns = daily.set_index(pd.to_datetime(daily["date"]))["portfolio_return"]
    assert len(returns) == sql["return_days"] > 4000
    for metric, expected in empyrical_metrics(returns).items():
        assert sql[metric] == pytest.approx(expected, abs=1e-10), metric
