"""The Python form of the book metrics (macros/book_metrics.sql), for whole arrays.

The reference definition of a book's metrics is the SQL macro: run_metrics,
two_pass_metrics, two_pass_controls and the tuning's metrics are all built
with it, and reports and comparisons read those published tables. Python needs
three of them where no table exists yet: the searches for the controls'
levels compare daily volatilities at every halving, and the tuning's controls
measure the Sharpe ratio and MaxDD of thousands of books at once. One book is a
column of an ``(n_sessions, C)`` array. tests/python/test_rule_equivalence.py
binds these to the macro.

Conventions (the macro's, empyrical's): volatility is the sample stdev (ddof
1); the Sharpe ratio is mean / stdev x sqrt(252) with a zero risk-free rate,
undefined (NaN) when the stdev is 0; wealth starts at 1.0 before the first
return and the drawdown is wealth / max(1.0, running max) - 1.

Pure functions of arrays; no database.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["SESSIONS_PER_YEAR", "daily_vols", "max_drawdowns", "sharpes"]

#: macros/windows.sql sessions_per_year(): annualises the volatility and the Sharpe ratio.
SESSIONS_PER_YEAR = 252


def _by_book(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """One contiguous row per book: numpy then sums each book as it sums a 1-D
    array, so a book's figure does not depend on the books beside it."""
    return np.ascontiguousarray(np.asarray(returns, dtype=np.float64).T)


def daily_vols(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sample stdev (ddof 1) of each column; NaN with fewer than two rows."""
    rows = _by_book(returns)
    if rows.shape[1] < 2:
        return np.full(rows.shape[0], np.nan)
    return np.std(rows, axis=1, ddof=1)


def sharpes(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """mean / stdev (ddof 1) x sqrt(252) per column, rf 0; NaN where the stdev is 0."""
    rows = _by_book(returns)
    vol = daily_vols(returns)
    mean = rows.mean(axis=1) if rows.shape[1] else np.full(rows.shape[0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vol > 0, mean / vol * np.sqrt(SESSIONS_PER_YEAR), np.nan)


def max_drawdowns(returns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Deepest wealth / max(1.0, running max) - 1 per column, wealth from 1.0."""
    rows = _by_book(returns)
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], np.nan)
    wealth = np.exp(np.cumsum(np.log1p(rows), axis=1))
    peak = np.maximum(1.0, np.maximum.accumulate(wealth, axis=1))
    return (wealth / peak - 1.0).min(axis=1)
