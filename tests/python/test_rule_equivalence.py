"""Each financial rule has one SQL definition; its whole-array Python form,
used where a bisection or a sweep needs speed, is bound to it here.

The macros run in an in-memory DuckDB, rendered outside dbt
(allocator.sql_macros), on books that exercise every case of the rule: a
window opening on a rebalance or inside a holding period, a returns-only
book, a held rebalance without weights, unknown and zero volatilities. No
dbt build: the whole module runs in a few seconds.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from allocator.controls import VolTargetRule
from allocator.metrics import SESSIONS_PER_YEAR, daily_vols, max_drawdowns, sharpes
from allocator.overfitting import sharpe_ratios
from allocator.pricing import book_from_frames, price_exposures
from allocator.sql_macros import macro_library

TOLERANCE = 1e-14


def _query(sql: str, **frames: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame)
        return con.execute(macro_library().render(sql)).df()
    finally:
        con.close()


# --- pricing: macros/price_exposure.sql vs allocator.pricing -------------------------------


def _unscaled_book(
    rng: np.random.Generator, kind: str, n: int = 90
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions (date, held_rebalance_date, gross_return, turnover) and weights_raw."""
    dates = pd.bdate_range("2021-01-04", periods=n + 5)
    if kind == "returns_only":
        sessions = pd.DataFrame({"date": dates[5:], "held_rebalance_date": pd.NaT})
        weights = pd.DataFrame(columns=["rebalance_date", "symbol", "weight"])
    else:
        rebalances = dates[::11]
        held = pd.Series(dates).map(lambda d: rebalances[rebalances < d].max())
        start = 1 if kind == "opens_on_rebalance" else 5  # else inside a holding period
        sessions = pd.DataFrame({"date": dates[start:], "held_rebalance_date": held[start:]})
        rows = [
            {"rebalance_date": r, "symbol": s, "weight": rng.uniform(-0.4, 0.7)}
            for i, r in enumerate(rebalances)
            if i != 3  # a held rebalance without weights holds nothing
            for s in rng.choice(list("abcdefghij"), size=int(rng.integers(2, 9)), replace=False)
        ]
        weights = pd.DataFrame(rows)
    sessions = sessions.reset_index(drop=True)
    sessions["gross_return"] = rng.normal(0.0003, 0.01, len(sessions))
    sessions["turnover"] = rng.uniform(0.0, 0.6, len(sessions))
    return sessions, weights


_PRICING_SQL = """
with {{ allocator.price_exposure('exposures', 'unscaled', 'weights', 'run_config', ['book']) }}
select book, date, gross_return, turnover, net_return from priced_exposure order by book, date
"""


@pytest.mark.parametrize("kind", ["opens_on_rebalance", "opens_held", "returns_only"])
@pytest.mark.parametrize("seed", [1, 2])
def test_pricing_equals_the_macro(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sessions, weights = _unscaled_book(rng, kind)
    n = len(sessions)
    paths = np.column_stack(
        [
            np.ones(n),
            np.full(n, 0.37),
            rng.uniform(0.25, 1.0, n),
            np.repeat(rng.uniform(0.25, 1.0, n // 7 + 1), 7)[:n],  # held for a few sessions
        ]
    )
    # the scalar is delivered on a returns-only book as on a weights book
    # (allocator_scalars_daily): its held rebalance is the previous session
    held = sessions["held_rebalance_date"].fillna(sessions["date"].shift(1))
    exposures = pd.concat(
        [
            pd.DataFrame(
                {"book": j, "date": sessions["date"], "held_rebalance_date": held, "exposure": path}
            )
            for j, path in enumerate(paths.T)
        ]
    )
    cost = 7.5
    expected = _query(
        _PRICING_SQL,
        exposures=exposures,
        unscaled=sessions,
        weights=weights.astype({"weight": float}),
        run_config=pd.DataFrame({"transaction_cost_bps": [cost]}),
    )
    priced = price_exposures(book_from_frames(sessions, weights, cost), paths)
    for column, values in (
        ("gross_return", priced.gross_return),
        ("turnover", priced.turnover),
        ("net_return", priced.net_return),
    ):
        macro = expected.pivot(index="date", columns="book", values=column).to_numpy()
        np.testing.assert_allclose(values, macro, rtol=0, atol=TOLERANCE, err_msg=column)


def test_a_book_is_priced_alike_alone_or_beside_others() -> None:
    """Column independence: the run's one book and a sweep's many give the same bits."""
    rng = np.random.default_rng(3)
    sessions, weights = _unscaled_book(rng, "opens_held")
    book = book_from_frames(sessions, weights, 5.0)
    paths = rng.uniform(0.25, 1.0, (len(sessions), 6))
    together = price_exposures(book, paths).net_return
    for j in range(paths.shape[1]):
        alone = price_exposures(book, paths[:, [j]]).net_return[:, 0]
        assert np.array_equal(alone, together[:, j])


# --- the vol target: macros/controls.sql vs allocator.controls ------------------------------


def test_vol_target_exposure_equals_the_macro() -> None:
    rvol = pd.DataFrame({"rvol": [0.1, 0.4, np.nan, 0.0, 0.2, 1e-9]})
    k = 0.2
    macro = _query(
        "select {{ allocator.vol_target_exposure(0.2, 'rvol') }} as exposure from frame",
        frame=rvol,
    )["exposure"]
    missing = 0.75  # the caller's fill of an unknown vol (controls_exposures_daily)
    mine = VolTargetRule.of(rvol[["rvol"]].to_numpy(), missing).exposure(np.array([k]))[:, 0]
    assert mine.tolist() == macro.fillna(missing).tolist()


# --- the book metrics: macros/book_metrics.sql vs allocator.metrics -------------------------

_METRICS_SQL = """
with returns as (

    select * from books

),

with_equity as (

    select *, {{ allocator.wealth('r', 'partition by book order by date') }} as equity,
    from returns

),

daily as (

    select *, {{ allocator.drawdown('equity', 'partition by book order by date') }} as dd,
    from with_equity

),

{{ allocator.book_metrics('daily', 'r', 'dd', ['book']) }}

select book, ann_vol, sharpe, max_drawdown from metrics order by book
"""


def test_book_metrics_equal_the_macro() -> None:
    rng = np.random.default_rng(11)
    n = 700
    returns = np.column_stack(
        [
            rng.normal(0.0004, 0.01, n),
            0.0005 + 0.012 * rng.standard_t(3, n),
            np.r_[-0.05, rng.normal(0.0, 0.004, n - 1)],  # a loss on day one is a drawdown
            np.full(n, 0.0002),  # no volatility: no Sharpe ratio
        ]
    )
    frame = pd.concat(
        [
            pd.DataFrame(
                {"book": j, "run_id": "r", "date": pd.bdate_range("2020-01-01", periods=n), "r": r}
            )
            for j, r in enumerate(returns.T)
        ]
    )
    macro = _query(_METRICS_SQL, books=frame)
    np.testing.assert_allclose(
        daily_vols(returns) * np.sqrt(SESSIONS_PER_YEAR), macro["ann_vol"], rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(max_drawdowns(returns), macro["max_drawdown"], rtol=0, atol=1e-12)
    mine = sharpes(returns)
    assert np.isnan(mine[3]) and (pd.isna(macro["sharpe"][3]) or macro["ann_vol"][3] < 1e-15)
    np.testing.assert_allclose(mine[:3], macro["sharpe"][:3], rtol=1e-12, atol=0)


def test_the_deflated_sharpes_per_period_ratio_is_the_book_sharpe_rescaled() -> None:
    """The DSR and the PBO rank by a per-period Sharpe ratio with population
    moments (allocator.overfitting, as the papers define it): the book's
    Sharpe ratio without the annualisation and the ddof-1 correction."""
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0003, 0.01, (500, 7))
    t = returns.shape[0]
    rescaled = sharpes(returns) / np.sqrt(SESSIONS_PER_YEAR) * np.sqrt(t / (t - 1))
    np.testing.assert_allclose(sharpe_ratios(returns), rescaled, rtol=1e-12, atol=0)
