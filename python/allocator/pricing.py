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

Sleeve-level scalars (Stage 6) are the general case: an exposure path per
sleeve, ``(n_sessions, C, S)``, on a book whose weights and gross returns are
split by sleeve (:class:`SleeveBook`), as
models/exposure/intermediate/int_exposure_sleeve_scaled_book.sql prices it.
The book holds ``P_t = sum_s a_t,s w_k,s`` and earns ``sum_s a_t,s r_t,s``
(``r_t,s`` the sleeve's contribution, sleeve_returns); every session after
the first pays ``sum_i |P_t,i - P_(t-1),i|`` (sleeves sharing a symbol net),
the first ``sum_i |P_0,i|`` when the unscaled book trades then (its entry
from cash), nothing otherwise. The book-level rules above are that rule with
one exposure for the whole book: inside a holding period the common scalar
factors out of the sum, ``|a_t - a_(t-1)|`` x the gross exposure.

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
    "SleeveBook",
    "book_from_frames",
    "positions",
    "price_exposure",
    "price_exposures",
    "pricing_book",
    "sleeve_book",
    "sleeve_weights_tensor",
    "weights_matrix",
]

#: Elements of one (first sessions, configurations, symbols) block of the rebalance turnover.
FIRST_SESSION_BLOCK = 4_000_000


@dataclass(frozen=True)
class SleeveBook:
    """The unscaled book split by sleeve (Stage 6), for exposures per sleeve.

    ``weights``: ``(n_rebalances + 1, S, n_symbols)``, one slice per rebalance
    of the sorted weight dates and a last one of zeros; ``held``: each
    session's row in it (the zeros when it holds none); ``gross_return``:
    ``(n_sessions, S)``, each sleeve's contribution to the unscaled book's
    gross return.
    """

    sleeves: tuple[str, ...]
    weights: NDArray[np.float64]
    held: NDArray[np.intp]
    gross_return: NDArray[np.float64]


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
    sleeves: SleeveBook | None = None

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


def sleeve_weights_tensor(
    sleeve_weights: pd.DataFrame, sleeves: tuple[str, ...]
) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    """strategy_sleeve_weights rows (rebalance_date, sleeve, symbol, weight) as
    sorted dates and a dense ``(n_rebalances, S, n_symbols)`` tensor, the
    sleeves in the order of ``sleeves``."""
    if not len(sleeve_weights):
        return np.empty(0, dtype="datetime64[D]"), np.zeros((0, len(sleeves), 0))
    pivot = sleeve_weights.pivot_table(
        index=["rebalance_date", "sleeve"], columns="symbol", values="weight", aggfunc="sum"
    )
    rebalances = sorted(pivot.index.get_level_values(0).unique())
    full = pivot.reindex(pd.MultiIndex.from_product([rebalances, list(sleeves)])).fillna(0.0)
    dates = pd.to_datetime(pd.Series(rebalances)).to_numpy(dtype="datetime64[D]")
    tensor = full.to_numpy(dtype=np.float64).reshape(len(rebalances), len(sleeves), -1)
    return dates, tensor


def sleeve_book(
    held: NDArray[np.datetime64],
    sleeves: tuple[str, ...],
    weight_dates: NDArray[np.datetime64],
    weights: NDArray[np.float64],
    gross_return: NDArray[np.float64],
) -> SleeveBook:
    """The book by sleeve: ``held`` each session's held_rebalance_date (NaT:
    none), ``weights`` from :func:`sleeve_weights_tensor`, ``gross_return``
    ``(n_sessions, S)``."""
    tensor = np.asarray(weights, dtype=np.float64)
    zeros = np.zeros((1, len(sleeves), tensor.shape[2] if tensor.ndim == 3 else 0))
    return SleeveBook(
        sleeves=tuple(sleeves),
        weights=np.concatenate([tensor.reshape(-1, *zeros.shape[1:]), zeros]),
        held=positions(np.asarray(held, dtype="datetime64[D]"), weight_dates),
        gross_return=np.asarray(gross_return, dtype=np.float64).reshape(-1, len(sleeves)),
    )


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
    """Every column of ``exposure`` priced on the book.

    ``exposure``: ``(n_sessions, C)``, one scalar on the whole book per
    session and configuration, or ``(n_sessions, C, S)``, one per sleeve of
    ``book.sleeves`` (the general case, module docstring). Whole-array steps,
    the position changes in blocks of sessions: a bisection prices every
    configuration some 60 times (allocator.controls).
    """
    exposure = np.asarray(exposure, dtype=np.float64)
    by_sleeve = exposure.ndim == 3
    if by_sleeve and book.sleeves is None:
        raise ValueError("exposures per sleeve need a book split by sleeve (PricingBook.sleeves)")
    sleeves = book.sleeves if by_sleeve else None
    paths = exposure if by_sleeve else exposure[:, :, None]
    if sleeves is None:
        gross = book.gross_return[:, None] * exposure
        weights, held = book.weights[:, None, :], book.new_weights
        previous_held = book.old_weights
    else:
        gross = sleeves.gross_return[:, None, 0] * paths[:, :, 0]
        for s in range(1, paths.shape[2]):
            gross += sleeves.gross_return[:, None, s] * paths[:, :, s]
        weights, held = sleeves.weights, sleeves.held
        previous_held = np.concatenate([held[:1], held[:-1]])
    # in place: each (sessions, configurations) temporary costs as much as the arithmetic
    turnover = np.zeros(paths.shape[:2])
    if sleeves is None:
        np.subtract(exposure[1:], exposure[:-1], out=turnover[1:])
        np.abs(turnover, out=turnover)
        # one scalar on the whole book: inside a holding period it factors out
        # of the position change, |a_t - a_(t-1)| x the gross exposure
        turnover *= np.where(book.returns_only, 1.0, np.where(book.same, book.gross_exposure, 0.0))[
            :, None
        ]
        turnover[book.opening] = exposure[book.opening] * book.turnover[book.opening, None]
        moved = np.flatnonzero(book.first)
    else:
        moved = np.arange(1, book.n_sessions)
    n_configs, n_symbols = paths.shape[1], weights.shape[2]
    block = max(1, FIRST_SESSION_BLOCK // max(1, n_configs * n_symbols))
    for start in range(0, moved.size, block):
        t = moved[start : start + block]
        before = np.where(t > 0, t - 1, 0)  # session 0 (from cash) has no weights before
        # (sessions, configurations, symbols): each sum runs over one contiguous row
        change = _positions(paths, weights, t, held[t])
        change -= _positions(paths, weights, before, previous_held[t])
        turnover[t] = np.abs(change, out=change).sum(axis=-1)
    if sleeves is not None and book.n_sessions:
        # the entry from cash when the unscaled book trades on its first session
        entry = np.abs(_positions(paths, weights, np.zeros(1, np.intp), held[:1])).sum(axis=-1)
        turnover[0] = np.where(book.turnover[0] == 0, 0.0, entry[0])
    net = turnover * book.cost_bps
    net /= 10000.0
    np.subtract(gross, net, out=net)
    return PricedBooks(gross, turnover, net)


def _positions(
    paths: NDArray[np.float64],
    weights: NDArray[np.float64],
    sessions: NDArray[np.intp],
    rows: NDArray[np.intp],
) -> NDArray[np.float64]:
    """Held positions (sessions, configurations, symbols): sum over sleeves of
    the sleeve's exposure x its weights (one sleeve: the book's)."""
    held = paths[sessions][:, :, 0, None] * weights[rows][:, None, 0, :]
    for s in range(1, paths.shape[2]):
        held += paths[sessions][:, :, s, None] * weights[rows][:, None, s, :]
    return held


def price_exposure(book: PricingBook, exposure: NDArray[np.float64]) -> NDArray[np.float64]:
    """Net return of one exposure path ``a_t`` (a column of :func:`price_exposures`)."""
    path = np.asarray(exposure, dtype=np.float64)
    return price_exposures(book, path[:, None]).net_return[:, 0]
