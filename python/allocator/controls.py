"""The vol-target control of the two-pass audit: its scale k, by bisection.

Control (c) holds the exposure ``min(1, k / rv20)`` (rv20 = the unscaled
book's port_rvol_20d at the close the governor's scalar was decided at),
delivered on the same sessions as the governor's scalar and priced as the
scaled book is (macros/price_exposure.sql). k is the one that makes the
control's realised volatility equal to the scaled run's, so the governor and
the control are compared at the same risk. The dbt model
``controls_vol_target_k`` wraps :func:`solve_vol_target_k`; SQL then prices
the control with the shared macro, and a data test checks that its
volatility matches, which also checks that :func:`price_exposure` here and
the macro agree.

Pure functions of arrays; no database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Book",
    "VolTargetScale",
    "bisect_increasing",
    "book_from_frames",
    "daily_vol",
    "price_exposure",
    "solve_vol_target_k",
    "vol_target_exposure",
]

# enough halvings to reach adjacent doubles from any bracket of doubles
MAX_HALVINGS = 200


@dataclass(frozen=True)
class Book:
    """The unscaled book as the pricing sees it, one entry per session.

    ``held`` is the row of ``weights`` held each session (-1: no weights, a
    returns-only session); ``weights`` holds one row per rebalance.
    ``opening_turnover`` is the unscaled book's turnover on its first session
    (None: it bought its weights from cash that session).
    """

    gross_return: np.ndarray
    held: np.ndarray
    weights: np.ndarray
    cost_bps: float
    opening_turnover: float | None = None


@dataclass(frozen=True)
class VolTargetScale:
    """The solved vol-target scale and the volatilities it matches."""

    k: float | None
    target_daily_vol: float | None
    matched_daily_vol: float | None
    halvings: int


def daily_vol(returns: np.ndarray) -> float:
    """Sample stdev (ddof 1) of daily returns: book_metrics' volatility before annualising."""
    values = np.asarray(returns, dtype=float)
    if len(values) < 2:
        return math.nan
    return float(np.std(values, ddof=1))


def vol_target_exposure(rvol: np.ndarray, k: float, missing: float) -> np.ndarray:
    """min(1, k / rvol); 1 where rvol is 0; ``missing`` where rvol is unknown."""
    rv = np.asarray(rvol, dtype=float)
    out = np.full(len(rv), float(missing))
    known = np.isfinite(rv)
    positive = known & (rv > 0)
    out[known & (rv == 0)] = 1.0
    out[positive] = np.minimum(1.0, k / rv[positive])
    return out


def price_exposure(book: Book, exposure: np.ndarray) -> np.ndarray:
    """Net return of the book at ``exposure`` a_t each session (macros/price_exposure.sql).

    First session of a rebalance: turnover sum_i |a_t w_k,i - a_(t-1) w_(k-1),i|;
    other sessions: |a_t - a_(t-1)| x sum_i |w_k,i|; returns-only sessions:
    |a_t - a_(t-1)|, 0 on the first. The book's first session pays a_t x the
    unscaled book's own turnover then (nothing when the window opens inside a
    holding period).
    """
    a = np.asarray(exposure, dtype=float)
    held = book.held
    if len(a) == 0:
        return a
    gross_exposure = np.abs(book.weights).sum(axis=1)
    returns_only = held < 0
    previous_held = np.r_[-2, held[:-1]]  # -2: before the first session
    # the overlay's own trading; 0 on the first session of a returns-only book
    turnover = np.abs(np.diff(a, prepend=a[0])) * np.where(
        returns_only, 1.0, gross_exposure[np.maximum(held, 0)]
    )
    for t in np.flatnonzero(~returns_only & (previous_held != held)):
        if t == 0 and book.opening_turnover is not None:
            turnover[t] = a[t] * book.opening_turnover
            continue
        old = a[t - 1] * book.weights[held[t - 1]] if t and held[t - 1] >= 0 else 0.0
        turnover[t] = float(np.abs(a[t] * book.weights[held[t]] - old).sum())
    return a * book.gross_return - turnover * book.cost_bps / 10000.0


def book_from_frames(sessions: pd.DataFrame, weights: pd.DataFrame, cost_bps: float) -> Book:
    """The book from its sessions in date order (held_rebalance_date, null for
    a returns-only session; gross_return; optionally turnover, the unscaled
    book's) and weights_raw (rebalance_date, symbol, weight)."""
    matrix = (
        weights.pivot_table(
            index="rebalance_date", columns="symbol", values="weight", aggfunc="sum"
        ).fillna(0.0)
        if len(weights)
        else pd.DataFrame()
    )
    rows = {date: i for i, date in enumerate(matrix.index)}
    # a held rebalance without weights holds nothing: the extra empty last row
    values = np.vstack([matrix.to_numpy(dtype=float), np.zeros((1, matrix.shape[1]))])
    held = np.array(
        [
            -1 if pd.isna(date) else rows.get(date, len(values) - 1)
            for date in sessions["held_rebalance_date"]
        ],
        dtype=int,
    )
    opening = (
        float(sessions["turnover"].iloc[0])
        if "turnover" in sessions.columns and len(sessions)
        else None
    )
    return Book(
        sessions["gross_return"].to_numpy(dtype=float), held, values, float(cost_bps), opening
    )


def bisect_increasing(
    f: Callable[[float], float], target: float, low: float, high: float
) -> tuple[float | None, int]:
    """x in [low, high] with f(x) = target for f increasing, by bisection.

    None when the target lies outside [f(low), f(high)]. Halves until the
    bracket is two adjacent doubles; returns the end nearer the target.
    """
    f_low, f_high = f(low), f(high)
    if not (f_low <= target <= f_high):
        return None, 0
    halvings = 0
    while halvings < MAX_HALVINGS:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        halvings += 1
        f_middle = f(middle)
        if f_middle < target:
            low, f_low = middle, f_middle
        else:
            high, f_high = middle, f_middle
    return (low if abs(f_low - target) <= abs(f_high - target) else high), halvings


def solve_vol_target_k(
    book: Book,
    rvol: np.ndarray,
    governor_exposure: np.ndarray,
    missing: float,
) -> VolTargetScale:
    """k such that the vol-target control's realised vol equals the governor's.

    Both books are priced here by :func:`price_exposure`, so a governor that
    never scales is matched exactly (at k = max rvol). Volatilities are daily
    (the annualisation cancels). The bracket is [0, max rvol]: at 0 the
    control is out of the market whenever rvol is known, at max rvol it holds
    the whole book. k is None when the target is outside that range.
    """

    def vol_of(exposure: np.ndarray) -> float:
        return daily_vol(price_exposure(book, exposure))

    target = vol_of(np.asarray(governor_exposure, dtype=float))
    finite = np.asarray(rvol, dtype=float)
    finite = finite[np.isfinite(finite)]
    high = float(finite.max()) if len(finite) else 0.0
    if not math.isfinite(target):
        return VolTargetScale(None, None, None, 0)
    if high <= 0:
        return VolTargetScale(None, target, None, 0)
    k, halvings = bisect_increasing(
        lambda kk: vol_of(vol_target_exposure(rvol, kk, missing)), target, 0.0, high
    )
    matched = None if k is None else vol_of(vol_target_exposure(rvol, k, missing))
    return VolTargetScale(k, target, matched, halvings)
