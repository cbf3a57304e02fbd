"""Selection-bias diagnostics for a configuration sweep (Stage 7 tuning).

Picking the best of many backtested configurations inflates its Sharpe ratio:
even pure noise produces a "winner".  Two standard corrections are provided:

* :func:`deflated_sharpe_ratio` - Bailey & Lopez de Prado (2014), "The Deflated
  Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and
  Non-Normality".  The probability that the chosen strategy's true Sharpe
  exceeds the Sharpe one would expect from the best of ``N`` worthless
  trials.
* :func:`probability_of_backtest_overfitting` - Bailey, Borwein, Lopez de
  Prado & Zhu (2015), "The Probability of Backtest Overfitting", via
  combinatorially symmetric cross-validation (CSCV): how often the
  configuration that is best in-sample ranks in the bottom half out-of-sample.

Conventions (they matter, and are easy to mix up):

* Sharpe ratios are **per period** (per day for daily returns), never
  annualised: ``mean / std`` of the raw returns, no risk-free rate.  Annualise
  only for display.  The variance of the trials' Sharpe ratios passed to the
  DSR must be in the same per-period units.
* Moments are **population** (plug-in, ``ddof=0``) moments: ``std =
  sqrt(m2)``, ``skewness = m3 / m2**1.5``, ``kurtosis = m4 / m2**2`` with
  ``mk`` the k-th central moment averaged over ``T``.  Kurtosis is the
  ordinary (non-excess) kurtosis, 3 for a normal distribution.  These are the
  estimators the asymptotic Sharpe-ratio variance in the DSR is written in,
  and they satisfy ``kurtosis >= 1 + skewness**2`` exactly, which keeps the
  DSR's variance term non-negative.  (Inside CSCV the ``ddof`` choice is
  immaterial: every configuration has the same number of rows in a split, so
  the ranking is unchanged.)

Only the standard library (``statistics.NormalDist``) and numpy are used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations, pairwise
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EULER_GAMMA",
    "BacktestOverfitting",
    "DeflatedSharpe",
    "SharpeMoments",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_moments",
    "sharpe_ratios",
]

#: Euler-Mascheroni constant (gamma in the expected-maximum formula).
EULER_GAMMA: float = 0.5772156649015329

_STANDARD_NORMAL = NormalDist()

#: Upper bound on elements of one temporary array in the CSCV fast path (~32 MB).
_CHUNK_ELEMENTS = 1 << 22

#: A performance metric: a (rows, N) matrix of returns -> N scores (higher is better).
Metric = Callable[[NDArray[np.float64]], ArrayLike]


def _finite(name: str, value: object) -> float:
    """A finite real as float; booleans refused (they are never a statistic)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


# --- Sharpe ratios and moments -----------------------------------------------------------


@dataclass(frozen=True)
class SharpeMoments:
    """Per-period Sharpe ratio, population skewness and (non-excess) kurtosis over ``n_obs``.

    Build it by hand when only summary statistics of the chosen strategy are
    known, or with :func:`sharpe_moments` from its returns.
    """

    sharpe: float
    skewness: float
    kurtosis: float
    n_obs: int

    def __post_init__(self) -> None:
        for name in ("sharpe", "skewness", "kurtosis"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if isinstance(self.n_obs, bool) or not isinstance(self.n_obs, numbers.Integral):
            raise ValueError(f"n_obs must be an integer, got {self.n_obs!r}")
        if self.n_obs < 2:
            raise ValueError(f"n_obs must be >= 2 (the DSR uses sqrt(T - 1)), got {self.n_obs}")
        object.__setattr__(self, "n_obs", int(self.n_obs))


def _return_vector(returns: ArrayLike) -> NDArray[np.float64]:
    """1-D finite float returns with at least two observations."""
    vector = np.asarray(returns, dtype=np.float64)
    if vector.ndim != 1 or vector.shape[0] < 2:
        raise ValueError(f"returns must be 1-D with at least 2 observations, got {vector.shape}")
    bad = np.flatnonzero(~np.isfinite(vector))
    if bad.size:
        raise ValueError(f"returns[{bad[0]}] must be finite, got {vector[bad[0]].item()!r}")
    return vector


def sharpe_moments(returns: ArrayLike) -> SharpeMoments:
    """Per-period Sharpe, skewness and kurtosis of one return series (population moments).

    A constant series has no defined Sharpe ratio or higher moments, so it is
    refused rather than reported as infinite.
    """
    vector = _return_vector(returns)
    if np.all(vector == vector[0]):
        # Tested on the data, not on m2: rounding in the mean can leave a tiny m2.
        raise ValueError("returns are constant: Sharpe ratio and moments are undefined")
    mean = float(np.mean(vector))
    deviations = vector - mean
    m2 = float(np.mean(deviations**2))
    m3 = float(np.mean(deviations**3))
    m4 = float(np.mean(deviations**4))
    return SharpeMoments(
        sharpe=mean / math.sqrt(m2),
        skewness=m3 / m2**1.5,
        kurtosis=m4 / m2**2,
        n_obs=int(vector.shape[0]),
    )


def _sharpe_from_moments(
    mean: NDArray[np.float64], variance: NDArray[np.float64]
) -> NDArray[np.float64]:
    """mean / sqrt(variance), with 0/0 -> 0 and c/0 -> +-inf (a riskless gain ranks top).

    Defined for zero variance so that a flat configuration (e.g. never
    invested) can still be ranked instead of poisoning the ranking with NaN.
    """
    std = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean / std
    flat = std == 0.0
    ratio[flat] = np.where(mean[flat] == 0.0, 0.0, np.copysign(np.inf, mean[flat]))
    return ratio


def sharpe_ratios(returns: ArrayLike) -> NDArray[np.float64]:
    """Per-period Sharpe ratio ``mean / std`` (population std) of each column of ``(T, N)``.

    This is the default CSCV metric; it is also what the DSR's
    ``sharpe_variance`` should be computed from (e.g.
    ``sharpe_ratios(perf).var(ddof=1)``).
    """
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 1:
        raise ValueError(f"returns must be 2-D (T, N) with T >= 1, got {matrix.shape}")
    mean = matrix.mean(axis=0)
    variance = np.mean((matrix - mean) ** 2, axis=0)
    return _sharpe_from_moments(mean, variance)


# --- deflated Sharpe ratio ---------------------------------------------------------------


def expected_max_sharpe(n_trials: float, sharpe_variance: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` independent zero-skill trials (SR0).

    ``SR0 = sqrt(V) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))``
    (Bailey & Lopez de Prado 2014, eq. for E[max SR_n] under SR_n ~ N(0, V)).
    ``n_trials`` may be fractional (an *effective* number of independent
    trials, e.g. from clustering correlated configurations) but must exceed 1:
    at N = 1 the formula diverges; with a single trial there is no selection
    and :func:`probabilistic_sharpe_ratio` with benchmark 0 applies.
    """
    n = _finite("n_trials", n_trials)
    variance = _finite("sharpe_variance", sharpe_variance)
    if n <= 1.0:
        raise ValueError(
            f"n_trials must be > 1, got {n_trials!r} "
            "(for a single trial use probabilistic_sharpe_ratio with benchmark 0)"
        )
    if variance < 0.0:
        raise ValueError(f"sharpe_variance must be >= 0, got {sharpe_variance!r}")
    upper = 1.0 - 1.0 / (n * math.e)
    if upper >= 1.0:
        raise ValueError(f"n_trials={n_trials!r} is too large for double precision")
    quantile = _STANDARD_NORMAL.inv_cdf
    return math.sqrt(variance) * (
        (1.0 - EULER_GAMMA) * quantile(1.0 - 1.0 / n) + EULER_GAMMA * quantile(upper)
    )


def probabilistic_sharpe_ratio(moments: SharpeMoments, benchmark: float = 0.0) -> float:
    """P(true Sharpe > ``benchmark``) given the observed per-period Sharpe and moments.

    ``Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))``
    (Bailey & Lopez de Prado 2012), the building block of the DSR.
    """
    star = _finite("benchmark", benchmark)
    sr = moments.sharpe
    spread = 1.0 - moments.skewness * sr + (moments.kurtosis - 1.0) / 4.0 * sr**2
    if not spread > 0.0:
        raise ValueError(
            "1 - skewness*SR + (kurtosis - 1)/4*SR^2 must be positive, got "
            f"{spread!r}; are skewness/kurtosis population moments with non-excess kurtosis?"
        )
    z = (sr - star) * math.sqrt(moments.n_obs - 1) / math.sqrt(spread)
    return _STANDARD_NORMAL.cdf(z)


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR with the inputs that produced it (so a report can show its working)."""

    probability: float
    sharpe: float
    expected_max_sharpe: float
    skewness: float
    kurtosis: float
    n_obs: int
    n_trials: float
    sharpe_variance: float


def deflated_sharpe_ratio(
    returns: ArrayLike | None = None,
    *,
    n_trials: float,
    sharpe_variance: float,
    moments: SharpeMoments | None = None,
) -> DeflatedSharpe:
    """Deflated Sharpe ratio of the configuration chosen out of ``n_trials``.

    Give exactly one of ``returns`` (the chosen strategy's per-period returns;
    moments are computed with :func:`sharpe_moments`) or ``moments`` (its
    observed per-period Sharpe, skewness, non-excess kurtosis and T).
    ``sharpe_variance`` is the variance across the trials of their per-period
    Sharpe ratios.

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials,
    sharpe_variance)``: the probability that the true Sharpe beats what the
    best of ``n_trials`` zero-skill trials would show.  A DSR near 1 means the
    result survives the selection; ~0.5 or below means it is explained by it.
    """
    if (returns is None) == (moments is None):
        raise ValueError("give exactly one of returns or moments")
    observed = sharpe_moments(returns) if moments is None else moments
    if not isinstance(observed, SharpeMoments):
        raise TypeError(f"moments must be a SharpeMoments, got {observed!r}")
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return DeflatedSharpe(
        probability=probabilistic_sharpe_ratio(observed, sr0),
        sharpe=observed.sharpe,
        expected_max_sharpe=sr0,
        skewness=observed.skewness,
        kurtosis=observed.kurtosis,
        n_obs=observed.n_obs,
        n_trials=float(n_trials),
        sharpe_variance=float(sharpe_variance),
    )


# --- probability of backtest overfitting (CSCV) -------------------------------------------


@dataclass(frozen=True, eq=False)
class BacktestOverfitting:
    """Result of CSCV.  Arrays are read-only and ordered like the combinations.

    Combination ``i`` is the i-th element of
    ``itertools.combinations(range(n_splits), n_splits // 2)``: the indices of
    the blocks used in-sample (the other blocks are out-of-sample).

    * ``pbo`` - share of combinations with ``logit <= 0``.
    * ``logits`` - ``ln(omega / (1 - omega))`` per combination.
    * ``relative_ranks`` - ``omega``: out-of-sample rank / (N + 1).
    * ``best_in_sample`` - configuration index chosen in-sample.
    """

    pbo: float
    logits: NDArray[np.float64]
    relative_ranks: NDArray[np.float64]
    best_in_sample: NDArray[np.intp]
    n_splits: int


def _performance_matrix(performance: ArrayLike) -> NDArray[np.float64]:
    """(T, N) finite float returns with at least two configurations."""
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"performance must be 2-D (T, N), got shape {matrix.shape}")
    if matrix.shape[1] < 2:
        raise ValueError(f"need at least 2 configurations to rank, got {matrix.shape[1]}")
    bad = np.argwhere(~np.isfinite(matrix))
    if bad.size:
        row, config = (int(i) for i in bad[0])
        raise ValueError(
            f"performance[{row}, {config}] must be finite, got {matrix[row, config].item()!r}"
        )
    return matrix


def _block_bounds(n_rows: int, n_splits: int) -> NDArray[np.intp]:
    """Start offsets of ``n_splits`` contiguous blocks, plus ``n_rows`` at the end.

    Block sizes differ by at most one row; the first ``n_rows % n_splits``
    blocks get the extra row (the ``numpy.array_split`` convention), so every
    row is used and no block is empty.
    """
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral):
        raise ValueError(f"n_splits must be an integer, got {n_splits!r}")
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits must be even and >= 2, got {n_splits}")
    if n_splits > n_rows:
        raise ValueError(f"n_splits ({n_splits}) exceeds the number of rows ({n_rows})")
    base, extra = divmod(n_rows, n_splits)
    sizes = np.full(n_splits, base, dtype=np.intp)
    sizes[:extra] += 1
    return np.concatenate(([0], np.cumsum(sizes)))


def _combination_pairs(n_splits: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """All in-sample block sets (lexicographic) and the index of each one's complement.

    With S/2 of S blocks in-sample, the out-of-sample set of combination ``i``
    is itself combination ``complement[i]``, so each metric is computed once
    and serves both as in-sample and out-of-sample.
    """
    combos = list(combinations(range(n_splits), n_splits // 2))
    position = {combo: index for index, combo in enumerate(combos)}
    everything = frozenset(range(n_splits))
    complement = [position[tuple(sorted(everything - set(combo)))] for combo in combos]
    return np.array(combos, dtype=np.intp), np.array(complement, dtype=np.intp)


def _block_moments(
    matrix: NDArray[np.float64], bounds: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per-block row count ``(S,)``, mean ``(S, N)`` and sum of squared deviations ``(S, N)``."""
    counts = np.diff(bounds).astype(np.float64)
    blocks = [matrix[a:b] for a, b in pairwise(bounds.tolist())]
    means = np.stack([block.mean(axis=0) for block in blocks])
    squares = np.stack(
        [((block - mean) ** 2).sum(axis=0) for block, mean in zip(blocks, means, strict=True)]
    )
    return counts, means, squares


def _pooled_sharpe(
    counts: NDArray[np.float64],
    means: NDArray[np.float64],
    squares: NDArray[np.float64],
    combos: NDArray[np.intp],
) -> NDArray[np.float64]:
    """Sharpe over the union of each combination's blocks, from block moments.

    Pools means and squared deviations exactly as a two-pass computation
    would (Chan et al.: ``M2 = sum M2_b + sum n_b (mean_b - mean)^2``), so no
    row data is copied per combination: the cost is O(S/2 * N) per
    combination instead of O(T/2 * N).
    """
    n_b = counts[combos][:, :, None]  # (c, k, 1)
    block_means = means[combos]  # (c, k, N)
    total = n_b.sum(axis=1)  # (c, 1)
    mean = (n_b * block_means).sum(axis=1) / total
    spread = block_means - mean[:, None, :]
    m2 = squares[combos].sum(axis=1) + (n_b * spread * spread).sum(axis=1)
    return _sharpe_from_moments(mean, m2 / total)


def _scorer(
    matrix: NDArray[np.float64], bounds: NDArray[np.intp], metric: Metric | None
) -> Callable[[NDArray[np.intp]], NDArray[np.float64]]:
    """A function scoring every configuration on the rows of each given combination.

    It maps combinations ``(c, S/2)`` to scores ``(c, N)``.  The default
    Sharpe pools precomputed block moments; a custom metric is called on the
    combination's rows (blocks concatenated in time order).
    """
    n_configs = matrix.shape[1]
    if metric is None:
        moments = _block_moments(matrix, bounds)
        return lambda combos: _pooled_sharpe(*moments, combos)
    rows_of_block = [np.arange(a, b) for a, b in pairwise(bounds.tolist())]

    def score(combos: NDArray[np.intp]) -> NDArray[np.float64]:
        values = np.empty((len(combos), n_configs))
        for index, combo in enumerate(combos):
            rows = np.concatenate([rows_of_block[block] for block in combo])
            scores = np.asarray(metric(matrix[rows]), dtype=np.float64)
            if scores.shape != (n_configs,):
                raise ValueError(f"metric must return shape ({n_configs},), got {scores.shape}")
            if np.isnan(scores).any():
                raise ValueError(f"metric returned NaN for blocks {tuple(combo.tolist())}")
            values[index] = scores
        return values

    return score


def _relative_rank(
    out_of_sample: NDArray[np.float64], chosen: NDArray[np.intp]
) -> NDArray[np.float64]:
    """omega = rank / (N + 1) of each chosen configuration among the out-of-sample scores.

    Rank 1 is the worst and N the best; ties get the average of the ranks
    they span (mid-rank), so the result never depends on column order.
    """
    n_configs = out_of_sample.shape[1]
    score = out_of_sample[np.arange(len(chosen)), chosen][:, None]
    below = np.count_nonzero(out_of_sample < score, axis=1)
    tied = np.count_nonzero(out_of_sample == score, axis=1)  # includes the chosen one
    return (below + (tied + 1) / 2.0) / (n_configs + 1)


def probability_of_backtest_overfitting(
    performance: ArrayLike,
    n_splits: int = 16,
    metric: Metric | None = None,
) -> BacktestOverfitting:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado & Zhu).

    ``performance`` is ``(T, N)``: per-period returns of N configurations on
    the same dates.  The rows are cut into ``n_splits`` (S, even) contiguous
    blocks (sizes differ by at most one row, the first ``T % S`` blocks being
    longer).  For each of the C(S, S/2) ways to choose S/2 blocks as
    in-sample (the rest, in time order, out-of-sample):

    1. score every configuration on both halves with ``metric``;
    2. ``n*`` = the in-sample best (ties: the lowest column index);
    3. ``omega`` = out-of-sample rank of ``n*`` / (N + 1), rank 1 = worst,
       N = best, ties averaged (so N identical scores give omega = 1/2);
    4. ``logit = ln(omega / (1 - omega))``, finite since 0 < omega < 1.

    ``pbo`` is the share of combinations with ``logit <= 0``: the in-sample
    winner did no better than the out-of-sample median.  (Identical
    configurations therefore count as overfit: selecting among them adds
    nothing.)

    ``metric`` maps a ``(rows, N)`` return matrix to N scores, higher is
    better; NaN scores are refused.  The default (None) is the per-period
    Sharpe ratio of :func:`sharpe_ratios`, computed from per-block moments so
    that S = 16 over thousands of configurations stays tractable; passing
    ``sharpe_ratios`` explicitly gives the same ranking by direct computation.
    """
    matrix = _performance_matrix(performance)
    bounds = _block_bounds(matrix.shape[0], n_splits)
    combos, complement = _combination_pairs(int(n_splits))
    score = _scorer(matrix, bounds, metric)
    # Combinations holding block 0 and their complements cover every
    # combination once; scoring them pairwise keeps memory to one chunk.
    first = np.flatnonzero(combos[:, 0] == 0)
    step = max(1, _CHUNK_ELEMENTS // (combos.shape[1] * matrix.shape[1]))
    chosen = np.empty(len(combos), dtype=np.intp)
    omega = np.empty(len(combos))
    for start in range(0, len(first), step):
        left = first[start : start + step]
        right = complement[left]
        left_scores, right_scores = score(combos[left]), score(combos[right])
        chosen[left] = np.argmax(left_scores, axis=1)  # first maximum: lowest index on ties
        chosen[right] = np.argmax(right_scores, axis=1)
        omega[left] = _relative_rank(right_scores, chosen[left])
        omega[right] = _relative_rank(left_scores, chosen[right])
    logits = np.log(omega / (1.0 - omega))
    for array in (logits, omega, chosen):
        array.flags.writeable = False
    return BacktestOverfitting(
        pbo=float(np.count_nonzero(logits <= 0.0)) / len(logits),
        logits=logits,
        relative_ranks=omega,
        best_in_sample=chosen,
        n_splits=int(n_splits),
    )
