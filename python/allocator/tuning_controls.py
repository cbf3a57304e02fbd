"""The two-pass audit's controls (b) and (c) for every tuning configuration at once.

For each configuration of a sweep (columns of ``(n_sessions, C)`` arrays):

* (b) the constant exposure c = vol(configuration) / vol(whole book at
  exposure 1), priced alike; a constant exposure scales every trade, so its
  net return is c times the whole book's (models/controls/controls_parameters.sql);
* (c) the vol target min(1, k / rv20), rv20 = the unscaled book's
  port_rvol_20d at the close the configuration's scalar is decided at (its
  cadence's source row), filled like a missing scalar, with k bisected so its
  vol equals the configuration's. The bisection is
  :func:`allocator.controls.bisect_increasing` run on a vector of brackets:
  each halving prices every configuration's vol-target book in one call of
  the sweep's pricing.

Then each control's Sharpe and MaxDD (macros/book_metrics.sql) and the
timing_skill of the configuration is SQL over these columns. Pure functions
of arrays; no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from allocator import progress
from allocator.controls import MAX_HALVINGS
from allocator.tuning import (
    CADENCES,
    DEFAULT_CHUNK,
    BaselineBook,
    Governor,
    _price,
    _session_plan,
    _SessionPlan,
    configuration_paths,
)

__all__ = [
    "CONTROL_COLUMNS",
    "bisect_increasing_many",
    "configuration_controls",
    "daily_vols",
    "decided_rvol",
    "max_drawdowns",
    "sharpes",
    "vol_target_exposure_many",
]

SESSIONS_PER_YEAR = 252  # macros sessions_per_year(): annualises the Sharpe ratio
RVOL_FEATURE = "port_rvol_20d"
CONTROL_COLUMNS: tuple[str, ...] = (
    "config_id",
    "vol_matched_exposure",
    "vol_target_k",
    "vol_matched_max_drawdown",
    "vol_matched_sharpe",
    "vol_target_max_drawdown",
    "vol_target_sharpe",
)


def daily_vols(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sample stdev (ddof 1) of each column; NaN with fewer than two rows."""
    if returns.shape[0] < 2:
        return np.full(returns.shape[1], np.nan)
    return np.std(returns, axis=0, ddof=1)


def sharpes(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """mean / stdev (ddof 1) x sqrt(252) per column, rf 0; NaN where the stdev is 0."""
    vol = daily_vols(returns)
    mean = returns.mean(axis=0) if returns.shape[0] else np.full(returns.shape[1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vol > 0, mean / vol * np.sqrt(SESSIONS_PER_YEAR), np.nan)


def max_drawdowns(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Deepest wealth / max(1.0, running max) - 1 per column, wealth from 1.0."""
    if returns.shape[0] == 0:
        return np.full(returns.shape[1], np.nan)
    wealth = np.exp(np.cumsum(np.log1p(returns), axis=0))
    peak = np.maximum(1.0, np.maximum.accumulate(wealth, axis=0))
    return (wealth / peak - 1.0).min(axis=0)


def decided_rvol(
    book: BaselineBook, plan: _SessionPlan, cadences: NDArray[np.intp]
) -> NDArray[np.float64]:
    """rv20 at each (session, configuration)'s decision close; NaN = no decision or unknown."""
    rvol = np.asarray(book.features[RVOL_FEATURE], dtype=np.float64)
    source = plan.source[cadences].T  # (n_sessions, C), -1 = no decision close
    extended = np.append(rvol, np.nan)
    return extended[source]


def vol_target_exposure_many(
    rvol: NDArray[np.float64], k: NDArray[np.float64], missing: float
) -> NDArray[np.float64]:
    """min(1, k_c / rvol) per column; 1 where rvol is 0; ``missing`` where unknown."""
    return _VolTargetRule.of(rvol, missing).exposure(k)


@dataclass(frozen=True)
class _VolTargetRule:
    """controls.vol_target_exposure's cases, decided once for a bisection's many k."""

    positive: NDArray[np.bool_]
    divisor: NDArray[np.float64]  # rvol where positive, 1 elsewhere (no division warnings)
    otherwise: NDArray[np.float64]  # 1 where rvol is 0, ``missing`` where unknown

    @classmethod
    def of(cls, rvol: NDArray[np.float64], missing: float) -> _VolTargetRule:
        known = np.isfinite(rvol)
        positive = known & (rvol > 0)
        return cls(
            positive,
            np.where(positive, rvol, 1.0),
            np.where(known & (rvol == 0), 1.0, missing),
        )

    def exposure(
        self, k: NDArray[np.float64], columns: NDArray[np.intp] | None = None
    ) -> NDArray[np.float64]:
        """The exposure of scale k[j] in column columns[j] (all columns when None)."""
        every = columns is None or columns.size == self.positive.shape[1]
        pick = slice(None) if every else columns
        out = np.divide(k[None, :], self.divisor[:, pick])
        np.minimum(out, 1.0, out=out)
        np.copyto(out, self.otherwise[:, pick], where=~self.positive[:, pick])
        return out


def bisect_increasing_many(
    f: Callable[[NDArray[np.float64], NDArray[np.intp]], NDArray[np.float64]],
    target: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
) -> NDArray[np.float64]:
    """:func:`allocator.controls.bisect_increasing` on a vector of brackets.

    ``f(x, j)`` is f of bracket j[i] at x[i], for the brackets ``j``. Every
    bracket takes exactly the steps the scalar version takes and stops where
    it stops (adjacent doubles); only the brackets still moving are
    evaluated. So each x equals the scalar result; NaN where the target is
    outside [f(low), f(high)].
    """
    everyone = np.arange(target.size)
    low, high = low.astype(np.float64).copy(), high.astype(np.float64).copy()
    f_low, f_high = f(low, everyone), f(high, everyone)
    solvable = (f_low <= target) & (target <= f_high)
    active = solvable.copy()
    for _ in range(MAX_HALVINGS):
        middle = 0.5 * (low + high)
        active &= (middle != low) & (middle != high)
        moving = np.flatnonzero(active)
        if moving.size == 0:
            break
        f_middle = f(middle[moving], moving)
        below = f_middle < target[moving]
        low[moving[below]], f_low[moving[below]] = middle[moving[below]], f_middle[below]
        high[moving[~below]], f_high[moving[~below]] = middle[moving[~below]], f_middle[~below]
    nearer_low = np.abs(f_low - target) <= np.abs(f_high - target)
    return np.where(solvable, np.where(nearer_low, low, high), np.nan)


def _solve_vol_target_k(
    book: BaselineBook,
    plan: _SessionPlan,
    rvol: NDArray[np.float64],
    target: NDArray[np.float64],
    governor: Governor,
) -> NDArray[np.float64]:
    """Each column's k on [0, max rv20] (controls.solve_vol_target_k); NaN = out of reach."""
    high = np.where(np.isfinite(rvol), rvol, -np.inf).max(axis=0, initial=-np.inf)
    reachable = np.flatnonzero(np.isfinite(target) & (high > 0))
    k = np.full(rvol.shape[1], np.nan)
    if reachable.size == 0:
        return k
    rule = _VolTargetRule.of(rvol[:, reachable], governor.apply_missing_scalar_as)

    def vol_at(scale: NDArray[np.float64], columns: NDArray[np.intp]) -> NDArray[np.float64]:
        exposure = rule.exposure(scale, columns)
        return daily_vols(_price(book, plan, exposure, governor.transaction_cost_bps)[2])

    k[reachable] = bisect_increasing_many(
        vol_at, target[reachable], np.zeros(reachable.size), high[reachable]
    )
    return k


def configuration_controls(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    chunk: int = DEFAULT_CHUNK,
) -> pd.DataFrame:
    """One row per configuration: (b)'s c, (c)'s k and both controls' MaxDD and Sharpe."""
    plan = _session_plan(book)
    cost = governor.transaction_cost_bps
    whole = _price(book, plan, np.ones((book.session_dates.size, 1)), cost)[2][:, 0]
    whole_vol = daily_vols(whole[:, None])[0]
    parts = []
    priced = progress.steps("tune: configurations' controls priced", len(grid))
    for start in range(0, len(grid), chunk):
        part = grid.iloc[start : start + chunk]
        _, exposure = configuration_paths(book, governor, part, plan)
        target = daily_vols(_price(book, plan, exposure, cost)[2])
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(whole_vol > 0, target / whole_vol, np.nan)
        matched = whole[:, None] * c[None, :]

        cadences = part["cadence"].map({name: i for i, name in enumerate(CADENCES)}).to_numpy()
        rvol = decided_rvol(book, plan, cadences)
        k = _solve_vol_target_k(book, plan, rvol, target, governor)
        solved = np.flatnonzero(np.isfinite(k))
        vol_target = np.full(exposure.shape, np.nan)
        if solved.size:
            vol_target[:, solved] = _price(
                book,
                plan,
                vol_target_exposure_many(
                    rvol[:, solved], k[solved], governor.apply_missing_scalar_as
                ),
                cost,
            )[2]
        parts.append(
            pd.DataFrame(
                {
                    "config_id": part["config_id"].to_numpy(np.int64),
                    "vol_matched_exposure": c,
                    "vol_target_k": k,
                    "vol_matched_max_drawdown": max_drawdowns(matched),
                    "vol_matched_sharpe": sharpes(matched),
                    "vol_target_max_drawdown": max_drawdowns(vol_target),
                    "vol_target_sharpe": sharpes(vol_target),
                }
            )
        )
        priced.advance(start + len(part))
    if not parts:
        return pd.DataFrame({column: [] for column in CONTROL_COLUMNS})
    return pd.concat(parts, ignore_index=True)
