"""The Python form of the exposure pricing (macros/price_exposure.sql).

The reference definition of how a book holding ``a_t`` times the unscaled
book is priced is the SQL macro, which prices the scaled book and the
two-pass controls (set-based, in the build). The searches for the controls'
levels price a book some 60 times per bisection, and the tuning sweep prices
thousands of configurations at once; that needs whole-array arithmetic, which
is this module, the only Python pricing. One exposure path is a column of an
``(n_sessions, C)`` array, so one book and ten thousand are priced by the same
lines. tests/python/test_rule_equivalence.py binds it to the macro on books
that exercise every case (docs/rules.md says why pricing lives where it does).

On session t a book holds ``a_t x w_k`` (``w_k`` the weights of the rebalance
it holds) and earns ``a_t`` times the unscaled book's gross return. Turnover:
``sum_i |a_t w_k,i - a_(t-1) w_(k-1),i|`` on the first session of a
rebalance, ``|a_t - a_(t-1)|`` times the gross exposure ``sum_i |w_k,i|`` on
the others, ``|a_t - a_(t-1)|`` on a returns-only book (0 on its first
session), and on the book's first session ``a_t`` times the unscaled book's own
turnover then (nothing when the window opens inside a holding period). The
cost is the profile's ``transaction_cost_bps`` on that turnover.

Every sum over symbols runs along a contiguous last axis, so a column's
figures do not depend on which other columns are priced with it.

Pure functions of arrays; no database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "PricedBooks",
    "PricingBook",
    "book_from_frames",
    "positions",
    "price_exposure",
    "price_exposures",
    "pricing_book",
    "weights_matrix",
]

#: Elements of one (first sessions, configurations, symbols) block of the rebalance turnover.
FIRST_SESSION_BLOCK = 4_000_000


@dataclass(frozen=True)
class PricingBook:
    """The unscaled book as the pricing sees it, one entry per session.

    ``weights`` holds one row per rebalance and a last row of zeros (a
    rebalance without weights, or none); ``new_weights`` / ``old_weights``
    index it for each session's held rebalance and the previous session's.
    ``opening``: the book's first session pays ``a_t`` x ``turnover`` (the
    unscaled book's); ``first``: a session that opens a new rebalance's
    weights; ``same``: one that keeps the previous session's.
    """

    gross_return: NDArray[np.float64]
    turnover: NDArray[np.float64]
    weights: NDArray[np.float64]
    returns_only: NDArray[np.bool_]
    opening: NDArray[np.bool_]
    first: NDArray[np.bool_]
    same: NDArray[np.bool_]
    new_weights: NDArray[np.intp]
    old_weights: NDArray[np.intp]
    gross_exposure: NDArray[np.float64]
    cost_bps: float

    @property
    def n_sessions(self) -> int:
        return int(self.gross_return.size)


@dataclass(frozen=True)
class PricedBooks:
    """Gross return, turnover and net return of each (session, book), ``(n_sessions, C)``."""

    gross_return: NDArray[np.float64]
    turnover: NDArray[np.float64]
    net_return: NDArray[np.float64]


def positions(keys: NDArray[np.datetime64], table: NDArray[np.datetime64]) -> NDArray[np.intp]:
    """Index of each key in the sorted ``table``, -1 where absent or NaT."""
    if table.size == 0:
        return np.full(keys.shape, -1, dtype=np.intp)
    at = np.clip(np.searchsorted(table, keys), 0, table.size - 1)
    found = (table[at] == keys) & ~np.isnat(keys)
    return np.where(found, at, -1).astype(np.intp)


def pricing_book(
    dates: NDArray[np.datetime64],
    held: NDArray[np.datetime64],
    gross_return: NDArray[np.float64],
    turnover: NDArray[np.float64] | None,
    weight_dates: NDArray[np.datetime64],
    weights: NDArray[np.float64],
    cost_bps: float,
) -> PricingBook:
    """The book from its sessions in date order and its weights matrix.

    ``dates``: the sessions; ``held``: each session's held_rebalance_date
    (NaT: a returns-only session, which holds the previous session's
    position, as allocator_scalars_daily.sql delivers it); ``turnover``: the
    unscaled book's (None: the book buys its first weights from cash);
    ``weights``: one row per date of the sorted ``weight_dates``, one column
    per symbol.
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    held = np.asarray(held, dtype="datetime64[D]")
    n = held.size
    returns_only = np.isnat(held)
    nat = np.array([np.datetime64("NaT", "D")])
    previous_date = np.concatenate([nat, dates])[:n]
    filled = np.where(returns_only, previous_date, held)
    previous_held = np.concatenate([nat, filled])[:n]
    with_weights = ~returns_only
    opening = with_weights & np.isnat(previous_held)
    if turnover is None:
        # from cash: the first session is the first of its rebalance, against no weights
        first = with_weights & (previous_held != held)
        opening = np.zeros(n, dtype=bool)
        turnover = np.zeros(n)
    else:
        first = with_weights & ~np.isnat(previous_held) & (previous_held != held)
    same = with_weights & (previous_held == held)
    matrix = np.asarray(weights, dtype=np.float64)
    if matrix.size == 0:
        matrix = np.zeros((len(weight_dates), 0))
    new_weights = positions(held, weight_dates)
    gross = np.abs(matrix).sum(axis=1)
    return PricingBook(
        gross_return=np.asarray(gross_return, dtype=np.float64),
        turnover=np.asarray(turnover, dtype=np.float64),
        weights=np.vstack([matrix, np.zeros((1, matrix.shape[1]))]),
        returns_only=returns_only,
        opening=opening,
        first=first,
        same=same,
        new_weights=new_weights,
        old_weights=positions(previous_held, weight_dates),
        gross_exposure=np.where(new_weights >= 0, gross[new_weights] if gross.size else 0.0, 0.0),
        cost_bps=float(cost_bps),
    )


def weights_matrix(weights: pd.DataFrame) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    """weights_raw rows (rebalance_date, symbol, weight) as sorted dates and a dense matrix."""
    if not len(weights):
        return np.empty(0, dtype="datetime64[D]"), np.zeros((0, 0))
    pivot = weights.pivot_table(
        index="rebalance_date", columns="symbol", values="weight", aggfunc="sum"
    ).sort_index()
    dates = pd.to_datetime(pd.Series(pivot.index)).to_numpy(dtype="datetime64[D]")
    return dates, pivot.fillna(0.0).to_numpy(dtype=np.float64)


def book_from_frames(sessions: pd.DataFrame, weights: pd.DataFrame, cost_bps: float) -> PricingBook:
    """The book from its sessions in date order (date; held_rebalance_date, null
    for a returns-only session; gross_return; optionally turnover, the
    unscaled book's) and weights_raw (rebalance_date, symbol, weight)."""
    weight_dates, matrix = weights_matrix(weights)
    dates = pd.to_datetime(sessions["date"]).to_numpy(dtype="datetime64[D]")
    held = pd.to_datetime(sessions["held_rebalance_date"]).to_numpy(dtype="datetime64[D]")
    turnover = (
        sessions["turnover"].to_numpy(dtype=np.float64) if "turnover" in sessions.columns else None
    )
    return pricing_book(
        dates,
        held,
        sessions["gross_return"].to_numpy(dtype=np.float64),
        turnover,
        weight_dates,
        matrix,
        cost_bps,
    )


def price_exposures(book: PricingBook, exposure: NDArray[np.float64]) -> PricedBooks:
    """Every column of ``exposure`` (n_sessions, C) priced on the book.

    Whole-array steps, the rebalance sessions in blocks: a bisection prices
    every configuration some 60 times (allocator.controls).
    """
    exposure = np.asarray(exposure, dtype=np.float64)
    gross = book.gross_return[:, None] * exposure
    # in place: each (sessions, configurations) temporary costs as much as the arithmetic
    turnover = np.empty_like(exposure)
    if exposure.shape[0]:
        turnover[0] = 0.0
    np.subtract(exposure[1:], exposure[:-1], out=turnover[1:])
    np.abs(turnover, out=turnover)
    turnover *= np.where(book.returns_only, 1.0, np.where(book.same, book.gross_exposure, 0.0))[
        :, None
    ]
    turnover[book.opening] = exposure[book.opening] * book.turnover[book.opening, None]
    first = np.flatnonzero(book.first)
    n_configs, n_symbols = exposure.shape[1], book.weights.shape[1]
    block = max(1, FIRST_SESSION_BLOCK // max(1, n_configs * n_symbols))
    for start in range(0, first.size, block):
        t = first[start : start + block]
        before = np.where(t > 0, t - 1, 0)  # session 0 (from cash) has no weights before
        # (sessions, configurations, symbols): each sum runs over one contiguous row
        moved = exposure[t][:, :, None] * book.weights[book.new_weights[t]][:, None, :]
        moved -= exposure[before][:, :, None] * book.weights[book.old_weights[t]][:, None, :]
        turnover[t] = np.abs(moved, out=moved).sum(axis=-1)
    net = turnover * book.cost_bps
    net /= 10000.0
    np.subtract(gross, net, out=net)
    return PricedBooks(gross, turnover, net)


def price_exposure(book: PricingBook, exposure: NDArray[np.float64]) -> NDArray[np.float64]:
    """Net return of one exposure path ``a_t`` (a column of :func:`price_exposures`)."""
    path = np.asarray(exposure, dtype=np.float64)
    return price_exposures(book, path[:, None]).net_return[:, 0]
