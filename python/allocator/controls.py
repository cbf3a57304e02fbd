"""The vol-target control of the two-pass audit: its scale k, by bisection.

Control (c) holds the exposure ``min(1, k / rv20)`` (rv20 = the unscaled
book's port_rvol_20d at the close the governor's scalar was decided at),
delivered on the same sessions as the governor's scalar and priced as the
scaled book is (macros/price_exposure.sql; here allocator.pricing). k is the
one that makes the control's realised volatility equal to the governor's, so
the two are compared at the same risk.

This module is the one search for the controls' levels: the bisection, the
exposure rule and the solver work on a vector of books at once. A run's
control (the dbt model ``controls_vol_target_k``) is one book, a tuning sweep
(allocator.tuning_controls) thousands; both call the same lines. SQL then
prices the run's control with the shared macro, and a data test checks that
its volatility matches the governor's.

Pure functions of arrays; no database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from allocator.metrics import daily_vols
from allocator.pricing import PricingBook, price_exposures

__all__ = [
    "MAX_HALVINGS",
    "VolTargetRule",
    "VolTargetScale",
    "bisect_increasing",
    "bisect_increasing_many",
    "daily_vol",
    "solve_vol_target_k",
    "solve_vol_target_ks",
    "vol_target_exposure",
]

# enough halvings to reach adjacent doubles from any bracket of doubles
MAX_HALVINGS = 200


@dataclass(frozen=True)
class VolTargetScale:
    """The solved vol-target scale and the volatilities it matches."""

    k: float | None
    target_daily_vol: float | None
    matched_daily_vol: float | None
    halvings: int


def daily_vol(returns: NDArray[np.float64]) -> float:
    """Sample stdev (ddof 1) of one book's daily returns (allocator.metrics.daily_vols)."""
    return float(daily_vols(np.asarray(returns, dtype=np.float64)[:, None])[0])


@dataclass(frozen=True)
class VolTargetRule:
    """The exposure min(1, k / rv) of macros/controls.sql's vol_target_exposure:
    1 where rv is 0 and ``missing`` where rv is unknown; the cases are decided
    once for a bisection's many k. One column per book."""

    positive: NDArray[np.bool_]
    divisor: NDArray[np.float64]  # rv where positive, 1 elsewhere (no division warnings)
    otherwise: NDArray[np.float64]  # 1 where rv is 0, ``missing`` where unknown

    @classmethod
    def of(cls, rvol: NDArray[np.float64], missing: float) -> VolTargetRule:
        rvol = np.asarray(rvol, dtype=np.float64)
        known = np.isfinite(rvol)
        positive = known & (rvol > 0)
        return cls(
            positive,
            np.where(positive, rvol, 1.0),
            np.where(known & (rvol == 0), 1.0, float(missing)),
        )

    def exposure(
        self, k: NDArray[np.float64], columns: NDArray[np.intp] | None = None
    ) -> NDArray[np.float64]:
        """The exposure of scale k[j] in column columns[j] (all columns when None)."""
        every = columns is None or columns.size == self.positive.shape[1]
        pick = slice(None) if every else columns
        out = np.divide(np.asarray(k, dtype=np.float64)[None, :], self.divisor[:, pick])
        np.minimum(out, 1.0, out=out)
        np.copyto(out, self.otherwise[:, pick], where=~self.positive[:, pick])
        return out


def vol_target_exposure(rvol: NDArray[np.float64], k: float, missing: float) -> NDArray[np.float64]:
    """min(1, k / rvol) of one book; 1 where rvol is 0; ``missing`` where rvol is unknown."""
    rv = np.asarray(rvol, dtype=np.float64)[:, None]
    return VolTargetRule.of(rv, missing).exposure(np.array([float(k)]))[:, 0]


def bisect_increasing_many(
    f: Callable[[NDArray[np.float64], NDArray[np.intp]], NDArray[np.float64]],
    target: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """x in [low_j, high_j] with f_j(x) = target_j for each increasing f_j, by bisection.

    ``f(x, j)`` is f of bracket j[i] at x[i], for the brackets ``j``. Each
    bracket halves until it is two adjacent doubles and returns the end
    nearer its target; only the brackets still moving are evaluated. Returns
    x (NaN where the target lies outside [f(low), f(high)]) and each
    bracket's number of halvings (0 there).
    """
    everyone = np.arange(target.size)
    low = np.asarray(low, dtype=np.float64).copy()
    high = np.asarray(high, dtype=np.float64).copy()
    f_low, f_high = f(low, everyone), f(high, everyone)
    solvable = (f_low <= target) & (target <= f_high)
    active = solvable.copy()
    halvings = np.zeros(target.size, dtype=np.int64)
    for _ in range(MAX_HALVINGS):
        middle = 0.5 * (low + high)
        active &= (middle != low) & (middle != high)
        moving = np.flatnonzero(active)
        if moving.size == 0:
            break
        halvings[moving] += 1
        f_middle = f(middle[moving], moving)
        below = f_middle < target[moving]
        low[moving[below]], f_low[moving[below]] = middle[moving[below]], f_middle[below]
        high[moving[~below]], f_high[moving[~below]] = middle[moving[~below]], f_middle[~below]
    nearer_low = np.abs(f_low - target) <= np.abs(f_high - target)
    return np.where(solvable, np.where(nearer_low, low, high), np.nan), halvings


def bisect_increasing(
    f: Callable[[float], float], target: float, low: float, high: float
) -> tuple[float | None, int]:
    """:func:`bisect_increasing_many` on one bracket: (x, halvings), (None, 0) out of reach."""

    def one(x: NDArray[np.float64], _: NDArray[np.intp]) -> NDArray[np.float64]:
        return np.array([f(float(x[0]))])

    x, halvings = bisect_increasing_many(
        one, np.array([float(target)]), np.array([float(low)]), np.array([float(high)])
    )
    return (None if math.isnan(x[0]) else float(x[0])), int(halvings[0])


def solve_vol_target_ks(
    book: PricingBook,
    rvol: NDArray[np.float64],
    target: NDArray[np.float64],
    missing: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Each column's k on [0, max rv]: the vol-target book's daily vol equals ``target``.

    ``rvol`` is (n_sessions, C), rv20 at each session's decision close (NaN:
    unknown); ``target`` the C daily vols to match. At k = 0 the control is out
    of the market whenever rv is known, at max rv it holds the whole book. k
    is NaN where the target is not finite, no rv is positive, or the target is
    out of that range. Returns k and the halvings each took.
    """
    rvol = np.asarray(rvol, dtype=np.float64)
    high = np.where(np.isfinite(rvol), rvol, -np.inf).max(axis=0, initial=-np.inf)
    reachable = np.flatnonzero(np.isfinite(target) & (high > 0))
    k = np.full(rvol.shape[1], np.nan)
    halvings = np.zeros(rvol.shape[1], dtype=np.int64)
    if reachable.size == 0:
        return k, halvings
    rule = VolTargetRule.of(rvol[:, reachable], missing)

    def vol_at(scale: NDArray[np.float64], columns: NDArray[np.intp]) -> NDArray[np.float64]:
        return daily_vols(price_exposures(book, rule.exposure(scale, columns)).net_return)

    k[reachable], halvings[reachable] = bisect_increasing_many(
        vol_at, target[reachable], np.zeros(reachable.size), high[reachable]
    )
    return k, halvings


def solve_vol_target_k(
    book: PricingBook,
    rvol: NDArray[np.float64],
    governor_exposure: NDArray[np.float64],
    missing: float,
    governor_net_return: NDArray[np.float64] | None = None,
) -> VolTargetScale:
    """k such that one book's vol-target control has the governor's realised vol.

    Both books are priced by allocator.pricing, so a governor that never
    scales is matched exactly (at k = max rvol). Volatilities are daily (the
    annualisation cancels). k is None when the target is out of reach.
    ``governor_net_return``: the governor's own returns, when one exposure
    does not price it (sleeve-level scalars); its vol is then the target.
    """
    if governor_net_return is None:
        governor = np.asarray(governor_exposure, dtype=np.float64)[:, None]
        target = daily_vols(price_exposures(book, governor).net_return)
    else:
        target = daily_vols(np.asarray(governor_net_return, dtype=np.float64)[:, None])
    if not math.isfinite(target[0]):
        return VolTargetScale(None, None, None, 0)
    rv = np.asarray(rvol, dtype=np.float64)[:, None]
    k, halvings = solve_vol_target_ks(book, rv, target, missing)
    if math.isnan(k[0]):
        return VolTargetScale(None, float(target[0]), None, 0)
    control = VolTargetRule.of(rv, missing).exposure(k)
    matched = daily_vols(price_exposures(book, control).net_return)
    return VolTargetScale(float(k[0]), float(target[0]), float(matched[0]), int(halvings[0]))
