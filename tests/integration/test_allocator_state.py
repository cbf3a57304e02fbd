"""allocator_state_v1 on the demo run equals an independent pandas computation to 1e-9.

Every feature is recomputed here from the run's inputs only
(portfolio_returns_unscaled, stg_market__returns, weights_raw, sleeve_returns,
trend_unit_returns, and the warm-up before start: allocator_state_v1_warm_up and
allocator_state_v1_warm_up_holdings) with plain pandas/numpy, following the
definitions in the issue, not the SQL.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tests.integration.conftest import AllocatorProject

TOLERANCE = 1e-9
WARM_UP = 60
# ready observations of corr_60d before corr_excess has a long-run level
CORR_HISTORY = 250
FEATURES = (
    "port_rvol_20d",
    "port_rvol_60d",
    "vol_accel",
    "dd_level",
    "dd_slope_10d",
    "corr_20d",
    "corr_60d",
    "corr_shock",
    "trend_breadth_20d",
    "sleeve_concentration_60d",
    "corr_excess",
    "dd_level_252d",
    "dd_level_504d",
)


def mean_pairwise_correlation(returns: np.ndarray, window: int) -> np.ndarray:
    """Per window end: mean over pairs i<j of the Pearson correlation over the last
    ``window`` rows; a pair with any missing value in the window (or a constant
    series) is left out. ``returns`` is dates x symbols with NaN for no return."""
    n_dates, n_symbols = returns.shape
    sums = np.zeros(n_dates)
    counts = np.zeros(n_dates)
    windows = sliding_window_view(returns, window, axis=0)  # (n - w + 1, symbols, w)
    for i in range(n_symbols):
        a = windows[:, i, :]
        for j in range(i + 1, n_symbols):
            b = windows[:, j, :]
            full = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
            ac = a - a.mean(axis=1, keepdims=True)
            bc = b - b.mean(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = (ac * bc).sum(axis=1) / np.sqrt(
                    (ac * ac).sum(axis=1) * (bc * bc).sum(axis=1)
                )
            usable = full & np.isfinite(corr)
            sums[window - 1 :] += np.where(usable, corr, 0.0)
            counts[window - 1 :] += usable
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def independent_state(project: AllocatorProject, run_id: str) -> pd.DataFrame:
    """The state on every observation, the warm-up sessions before start first
    (their rows are inputs only: the caller keeps the recorded dates)."""
    book = project.frame(
        "select date, net_return, true as is_warm_up from allocator_state_v1_warm_up "
        "where run_id = ? union all "
        "select date, net_return, false from portfolio_returns_unscaled where run_id = ? "
        "order by date",
        [run_id, run_id],
    ).set_index("date")
    r = book["net_return"]
    out = pd.DataFrame(index=book.index)

    out["port_rvol_20d"] = r.rolling(20).std(ddof=1) * math.sqrt(252)
    out["port_rvol_60d"] = r.rolling(60).std(ddof=1) * math.sqrt(252)
    out["vol_accel"] = out["port_rvol_20d"] / out["port_rvol_60d"]
    equity = (1.0 + r).cumprod()
    # the running maximum includes the 1.0 the equity starts from
    out["dd_level"] = equity / np.maximum(equity.cummax(), 1.0) - 1.0
    out["dd_slope_10d"] = out["dd_level"] - out["dd_level"].shift(10)

    symbols = [
        row[0]
        for row in project.query(
            "select distinct symbol from weights_raw where run_id = ? order by 1", [run_id]
        )
    ]
    market = project.frame("select date, symbol, simple_return from stg_market__returns")
    panel = (
        market.pivot(index="date", columns="symbol", values="simple_return")
        .reindex(index=book.index, columns=symbols)
        .to_numpy(dtype="float64")
    )
    out["corr_20d"] = mean_pairwise_correlation(panel, 20)
    out["corr_60d"] = mean_pairwise_correlation(panel, 60)
    out["corr_shock"] = out["corr_20d"] - out["corr_60d"]

    units = project.frame(
        "select date, symbol, unit_return from trend_unit_returns where run_id = ? union all "
        "select date, symbol, contribution from allocator_state_v1_warm_up_holdings "
        "where run_id = ? and sleeve = 'trend'",
        [run_id, run_id],
    ).pivot(index="date", columns="symbol", values="unit_return")
    units = units.reindex(index=book.index)
    held = units.notna()
    trailing = units.fillna(0.0).rolling(20, min_periods=1).sum()
    held_count = held.sum(axis=1)
    positive = ((trailing > 0) & held).sum(axis=1)
    out["trend_breadth_20d"] = (positive / held_count).where(held_count > 0)

    sleeves = (
        project.frame(
            "select date, sleeve, sleeve_return from sleeve_returns where run_id = ? union all "
            "select date, sleeve, sum(contribution) from allocator_state_v1_warm_up_holdings "
            "where run_id = ? group by date, sleeve",
            [run_id, run_id],
        )
        .pivot(index="date", columns="sleeve", values="sleeve_return")
        .reindex(index=book.index)
        .fillna(0.0)
    )
    pnl = sleeves.rolling(60, min_periods=1).sum().abs()
    total = pnl.sum(axis=1)
    shares = pnl.div(total, axis=0)
    out["sleeve_concentration_60d"] = (shares**2).sum(axis=1).where(total > 0)

    ready = np.arange(1, len(out) + 1) >= WARM_UP
    out.loc[~ready, [f for f in FEATURES if f != "corr_excess"]] = np.nan
    # the long-run correlation: the mean of every ready corr_60d so far
    history = out["corr_60d"]
    long_run = history.expanding().mean()
    excess = (out["corr_20d"] - long_run) / (1.0 - long_run)
    out["corr_excess"] = excess.where(history.notna().cumsum() >= CORR_HISTORY)
    # the drawdown from the last n observations' high (the starting 1.0 counts within them)
    for n in (252, 504):
        trailing_high = equity.rolling(n, min_periods=1).max()
        first = np.arange(1, len(out) + 1) <= n
        trailing_high = trailing_high.where(~first, np.maximum(1.0, trailing_high))
        out[f"dd_level_{n}d"] = (equity / trailing_high - 1.0).where(ready)
    out["is_ready"] = ready
    return out[~book["is_warm_up"].to_numpy(dtype=bool)]


@pytest.fixture(scope="module")
def state_pair(
    allocator_project: AllocatorProject, base_run: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    sql = allocator_project.frame(
        "select * from allocator_state_v1 where run_id = ? order by date", [base_run]
    ).set_index("date")
    return sql, independent_state(allocator_project, base_run)


def test_every_recorded_date_has_one_state_row(state_pair) -> None:
    sql, expected = state_pair
    assert list(sql.index) == list(expected.index)
    assert len(sql) == 4529


def test_the_demo_is_warmed_up_by_its_history_and_ready_from_start(
    allocator_project: AllocatorProject, base_run: str, state_pair
) -> None:
    """The demo's prices start in 1990 and its window in 2005: the book's last 59
    sessions before start warm the state up, so every recorded date is ready."""
    sql, expected = state_pair
    assert sql["is_ready"].tolist() == expected["is_ready"].tolist()
    assert sql["is_ready"].all()
    warm_up = allocator_project.query(
        "select count(*), min(date), max(date) from allocator_state_v1_warm_up where run_id = ?",
        [base_run],
    )[0]
    meta = allocator_project.query(
        "select warm_up_sessions, warm_up_first_date, is_ready_at_start, first_ready_date, "
        "first_date from allocator_state_v1_meta where run_id = ?",
        [base_run],
    )[0]
    first_recorded = sql.index[0].date()
    assert warm_up[0] == WARM_UP - 1
    assert warm_up[2] < meta[4] == first_recorded
    assert meta[:4] == (WARM_UP - 1, warm_up[1], True, first_recorded)
    # the warm-up is the same strategy's book: it holds the (monthly)
    # rebalances before start, trades at them, and its return is its holdings'
    held, traded, gap = allocator_project.query(
        "select count(distinct held_rebalance_date), sum(turnover) > 0, "
        "max(abs(gross_return - contributions)) "
        "from allocator_state_v1_warm_up inner join ("
        "  select run_id, date, sum(contribution) as contributions "
        "  from allocator_state_v1_warm_up_holdings group by run_id, date"
        ") using (run_id, date) where run_id = ?",
        [base_run],
    )[0]
    assert (held, traded) == (3, True)
    assert gap <= 1e-15


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_equals_independent_pandas_to_1e_9(state_pair, feature: str) -> None:
    sql, expected = state_pair
    got = sql[feature].astype("float64")
    want = expected[feature].astype("float64")
    assert (got.isna() == want.isna()).all(), f"{feature}: null pattern differs"
    assert got.notna().sum() > 4000, f"{feature}: expected values on (nearly) every ready date"
    assert np.nanmax(np.abs(got - want)) <= TOLERANCE


def test_demo_uses_exact_correlation_and_lists_no_missing_feature(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    methods = allocator_project.query(
        "select distinct correlation_method from allocator_state_v1 where run_id = ?", [base_run]
    )
    assert methods == [("exact",)]
    present, missing, parameters = allocator_project.query(
        "select features_present, features_missing, parameters "
        "from allocator_state_v1_meta where run_id = ?",
        [base_run],
    )[0]
    assert json.loads(present) == list(FEATURES)
    assert json.loads(missing) == {}
    assert json.loads(parameters)["correlation_method"] == "exact"
