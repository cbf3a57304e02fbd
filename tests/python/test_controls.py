"""The vol-target control's pure functions (python/allocator/controls.py) and
the Python pricing (python/allocator/pricing.py): bisection, exposure rule,
pricing against a hand computation, and k."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocator.controls import (
    bisect_increasing,
    bisect_increasing_many,
    daily_vol,
    solve_vol_target_k,
    vol_target_exposure,
)
from allocator.pricing import PricingBook, book_from_frames, price_exposure


def returns_only_book(gross_return: list[float], cost_bps: float) -> PricingBook:
    sessions = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=len(gross_return)),
            "held_rebalance_date": pd.NaT,
            "gross_return": gross_return,
        }
    )
    return book_from_frames(
        sessions, pd.DataFrame(columns=["rebalance_date", "symbol", "weight"]), cost_bps
    )


def test_bisection_reaches_adjacent_doubles() -> None:
    root, halvings = bisect_increasing(lambda x: x**3, 2.0, 0.0, 4.0)
    assert root == pytest.approx(2.0 ** (1 / 3), rel=1e-15)
    assert 50 <= halvings <= 60
    # the bracket's ends are returned when they are the answer
    assert bisect_increasing(lambda x: x, 0.0, 0.0, 1.0)[0] == 0.0
    assert bisect_increasing(lambda x: x, 1.0, 0.0, 1.0)[0] == 1.0


def test_bisection_refuses_a_target_out_of_reach() -> None:
    assert bisect_increasing(lambda x: x, 1.5, 0.0, 1.0) == (None, 0)
    assert bisect_increasing(lambda x: x, -0.5, 0.0, 1.0) == (None, 0)


def test_many_brackets_each_stop_where_one_alone_stops() -> None:
    """The vector bisection is the scalar one: each bracket ends where it would alone."""
    powers = np.array([1.0, 2.0, 3.0, 0.5])
    targets = np.array([0.3, 2.0, 5.0, 9.0])  # the last is out of reach of [0, 4]
    roots, halvings = bisect_increasing_many(
        lambda x, j: x ** powers[j], targets, np.zeros(4), np.full(4, 4.0)
    )
    for j in range(4):
        root, steps = bisect_increasing(lambda x, p=powers[j]: x**p, targets[j], 0.0, 4.0)
        assert (math.isnan(roots[j]) and root is None) or roots[j] == root
        assert halvings[j] == steps


def test_vol_target_exposure_caps_at_one_and_fills_the_unknown() -> None:
    rvol = np.array([0.1, 0.4, np.nan, 0.0, 0.2])
    assert vol_target_exposure(rvol, 0.2, 0.75).tolist() == [1.0, 0.5, 0.75, 1.0, 1.0]


def hand_book() -> tuple[PricingBook, pd.DataFrame, pd.DataFrame]:
    """Two rebalances of two symbols, five sessions."""
    sessions = pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"]
            ),
            "held_rebalance_date": pd.to_datetime(
                ["2020-01-01", "2020-01-01", "2020-01-03", "2020-01-03", "2020-01-03"]
            ),
            "gross_return": [0.01, -0.02, 0.005, 0.03, -0.01],
        }
    )
    weights = pd.DataFrame(
        {
            "rebalance_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-03"]),
            "symbol": ["A", "B", "A"],
            "weight": [0.6, -0.4, 1.0],
        }
    )
    return book_from_frames(sessions, weights, cost_bps=10.0), sessions, weights


def test_pricing_matches_a_hand_computation() -> None:
    book, _, _ = hand_book()
    a = np.array([0.5, 0.8, 0.8, 0.4, 0.4])
    # session 1: from cash to 0.5 x (0.6, -0.4): 0.3 + 0.2
    # session 2: same weights, 0.5 -> 0.8: 0.3 x gross exposure 1.0
    # session 3: new weights: A 0.8 x 0.6 -> 0.8 x 1.0, B 0.8 x -0.4 -> 0
    # session 4: 0.8 -> 0.4 on gross exposure 1.0; session 5: no trade
    turnover = np.array([0.5, 0.3, abs(0.8 - 0.48) + 0.32, 0.4, 0.0])
    gross = np.array([0.01, -0.02, 0.005, 0.03, -0.01])
    expected = a * gross - turnover * 10.0 / 10000.0
    assert price_exposure(book, a) == pytest.approx(expected, abs=1e-15)


def test_the_first_session_pays_the_unscaled_books_opening_turnover() -> None:
    """A window that opens inside a holding period: the unscaled book is
    already invested (turnover 0 that session), so the controls buy nothing
    either; opening on a rebalance, they pay their share of its entry."""
    _, sessions, weights = hand_book()
    a = np.array([0.5, 0.8, 0.8, 0.4, 0.4])
    from_cash = price_exposure(book_from_frames(sessions, weights, 10.0), a)
    held = price_exposure(book_from_frames(sessions.assign(turnover=0.0), weights, 10.0), a)
    entered = price_exposure(book_from_frames(sessions.assign(turnover=1.0), weights, 10.0), a)
    assert held[0] == pytest.approx(0.5 * 0.01, abs=1e-15)
    # entering from cash at 0.5 x (0.6, -0.4) is 0.5 x the book's turnover of 1.0
    assert entered == pytest.approx(from_cash, abs=1e-15)
    assert held[1:] == pytest.approx(from_cash[1:], abs=1e-15)


def test_a_constant_exposure_scales_the_whole_book() -> None:
    """(b)'s closed form: a constant c scales every trade, so the net return is c x the book's."""
    book, _, _ = hand_book()
    whole = price_exposure(book, np.ones(5))
    assert price_exposure(book, np.full(5, 0.37)) == pytest.approx(0.37 * whole, abs=1e-15)


def test_returns_only_sessions_trade_only_the_overlay() -> None:
    book = returns_only_book([0.01, 0.02, -0.01], 100.0)
    net = price_exposure(book, np.array([1.0, 0.5, 0.5]))
    assert net == pytest.approx([0.01, 0.01 - 0.5 * 0.01, -0.005], abs=1e-15)


def test_k_matches_the_governors_vol() -> None:
    rng = np.random.default_rng(7)
    n = 400
    sessions = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=n),
            "held_rebalance_date": pd.NaT,
            "gross_return": rng.normal(0.0003, 0.01, n),
        }
    )
    book = book_from_frames(
        sessions, pd.DataFrame(columns=["rebalance_date", "symbol", "weight"]), 5
    )
    rvol = np.where(np.arange(n) < 60, np.nan, rng.uniform(0.08, 0.3, n))
    governor = np.where(np.arange(n) % 50 < 10, 0.4, 1.0)
    scale = solve_vol_target_k(book, rvol, governor, missing=1.0)
    assert scale.k is not None and 0 < scale.k < 0.3
    assert scale.target_daily_vol == pytest.approx(daily_vol(price_exposure(book, governor)))
    assert scale.matched_daily_vol == pytest.approx(scale.target_daily_vol, rel=1e-12)
    # independently: the control at k has the governor's vol
    control = price_exposure(book, vol_target_exposure(rvol, scale.k, 1.0))
    assert np.std(control, ddof=1) == pytest.approx(scale.target_daily_vol, rel=1e-12)


def test_a_governor_that_never_scales_is_matched_by_the_whole_book() -> None:
    book, _, _ = hand_book()
    rvol = np.array([np.nan, 0.1, 0.2, 0.15, 0.3])
    scale = solve_vol_target_k(book, rvol, np.ones(5), missing=1.0)
    assert scale.k == pytest.approx(0.3, rel=1e-12)
    assert scale.matched_daily_vol == scale.target_daily_vol


def test_no_k_without_a_vol_or_a_reachable_target() -> None:
    book, _, _ = hand_book()
    no_vol = solve_vol_target_k(book, np.full(5, np.nan), np.full(5, 0.5), missing=1.0)
    assert no_vol.k is None and no_vol.target_daily_vol is not None
    # a governor more volatile than the whole book cannot be matched
    leveraged = solve_vol_target_k(book, np.full(5, 0.1), np.full(5, 2.0), missing=1.0)
    assert leveraged.k is None
    one_session = returns_only_book([0.01], 5.0)
    assert solve_vol_target_k(one_session, np.array([0.1]), np.ones(1), 1.0).k is None
    assert math.isnan(daily_vol(np.array([0.01])))
