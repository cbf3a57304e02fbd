"""The two-pass audit's controls (b) and (c) for every tuning configuration at once.

For each configuration of a sweep (columns of ``(n_sessions, C)`` arrays):

* (b) the constant exposure c = vol(configuration) / vol(whole book at
  exposure 1), priced alike; a constant exposure scales every trade, so its
  net return is c times the whole book's (models/controls/controls_parameters.sql);
* (c) the vol target min(1, k / rv20), rv20 = the unscaled book's
  port_rvol_20d at the close the configuration's scalar is decided at (its
  cadence's source row), filled like a missing scalar, with k bisected so its
  vol equals the configuration's: :func:`allocator.controls.solve_vol_target_ks`,
  the run's own search, on a vector of brackets; each halving prices every
  configuration's vol-target book in one call of :mod:`allocator.pricing`.

Each control's Sharpe and MaxDD come from :mod:`allocator.metrics` (the
whole-array form of macros/book_metrics.sql): the control books are never
stored, so SQL cannot measure them. The timing_skill of a configuration is
SQL over these columns. Pure functions of arrays; no database.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from allocator import progress
from allocator.controls import VolTargetRule, solve_vol_target_ks
from allocator.metrics import daily_vols, max_drawdowns, sharpes
from allocator.pricing import price_exposures
from allocator.tuning import (
    CADENCES,
    DEFAULT_CHUNK,
    BaselineBook,
    Governor,
    SessionPlan,
    configuration_books,
    session_plan,
)

__all__ = ["CONTROL_COLUMNS", "configuration_controls", "decided_rvol"]

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


def decided_rvol(
    book: BaselineBook, plan: SessionPlan, cadences: NDArray[np.intp]
) -> NDArray[np.float64]:
    """rv20 at each (session, configuration)'s decision close; NaN = no decision or unknown."""
    rvol = np.asarray(book.features[RVOL_FEATURE], dtype=np.float64)
    source = plan.source[cadences].T  # (n_sessions, C), -1 = no decision close
    extended = np.append(rvol, np.nan)
    return extended[source]


def configuration_controls(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    chunk: int = DEFAULT_CHUNK,
) -> pd.DataFrame:
    """One row per configuration: (b)'s c, (c)'s k and both controls' MaxDD and Sharpe."""
    plan = session_plan(book, governor.transaction_cost_bps)
    missing = governor.apply_missing_scalar_as
    whole = price_exposures(plan.pricing, np.ones((book.session_dates.size, 1))).net_return[:, 0]
    whole_vol = daily_vols(whole[:, None])[0]
    parts = []
    priced = progress.steps("tune: configurations' controls priced", len(grid))
    for start in range(0, len(grid), chunk):
        part = grid.iloc[start : start + chunk]
        # the configuration's own book (by sleeve where it has sleeve scalars)
        _, exposure, _, net = configuration_books(book, governor, part, plan)
        target = daily_vols(net)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(whole_vol > 0, target / whole_vol, np.nan)
        matched = whole[:, None] * c[None, :]

        cadences = part["cadence"].map({name: i for i, name in enumerate(CADENCES)}).to_numpy()
        rvol = decided_rvol(book, plan, cadences)
        k, _ = solve_vol_target_ks(plan.pricing, rvol, target, missing)
        solved = np.flatnonzero(np.isfinite(k))
        vol_target = np.full(exposure.shape, np.nan)
        if solved.size:
            vol_target[:, solved] = price_exposures(
                plan.pricing, VolTargetRule.of(rvol[:, solved], missing).exposure(k[solved])
            ).net_return
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
