"""Tests for allocator.overfitting: DSR and PBO against independent computations."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from allocator.overfitting import (
    EULER_GAMMA,
    SharpeMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_moments,
    sharpe_ratios,
)

TOL = 1e-12

# --- independent DSR: pandas moments, erfc-based normal, bisection quantile ----------------


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Inverse normal CDF by bisection on erfc (independent of NormalDist.inv_cdf)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if normal_cdf(middle) < p:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def pandas_moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Population Sharpe, skewness and non-excess kurtosis via pandas' *sample* estimators.

    pandas reports the bias-adjusted G1 and excess G2; undoing the adjustment
    recovers the population g1 and g2 + 3 by a different route than the module.
    """
    series = pd.Series(returns)
    n = len(series)
    sharpe = series.mean() / series.std(ddof=0)
    g1 = series.skew() * (n - 2) / math.sqrt(n * (n - 1))
    g2 = series.kurt() * (n - 2) * (n - 3) / ((n - 1) * (n + 1)) - 6.0 / (n + 1)
    return float(sharpe), float(g1), float(g2 + 3.0)


def independent_dsr(returns: np.ndarray, n_trials: int, variance: float) -> tuple[float, float]:
    sharpe, skew, kurt = pandas_moments(returns)
    sr0 = math.sqrt(variance) * (
        (1 - EULER_GAMMA) * normal_quantile(1 - 1 / n_trials)
        + EULER_GAMMA * normal_quantile(1 - 1 / (n_trials * math.e))
    )
    n = len(returns)
    z = (sharpe - sr0) / math.sqrt((1 - skew * sharpe + (kurt - 1) * sharpe * sharpe / 4) / (n - 1))
    return normal_cdf(z), sr0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dsr_matches_an_independent_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Skewed, fat-tailed daily returns with a modest edge.
    returns = 0.0008 + 0.01 * rng.standard_t(df=5, size=1500) - 0.004 * rng.exponential(size=1500)
    returns -= returns.mean() - 0.0009
    trials = rng.normal(0.0, 0.03, size=200)
    variance = float(np.var(trials, ddof=1))
    result = deflated_sharpe_ratio(returns, n_trials=200, sharpe_variance=variance)
    expected, sr0 = independent_dsr(returns, 200, variance)
    sharpe, skew, kurt = pandas_moments(returns)
    assert abs(result.sharpe - sharpe) < TOL
    assert abs(result.skewness - skew) < TOL
    assert abs(result.kurtosis - kurt) < TOL
    assert abs(result.expected_max_sharpe - sr0) < TOL
    assert abs(result.probability - expected) < TOL
    assert 0.01 < result.probability < 0.99  # not a saturated, trivially equal case
    assert result.n_obs == 1500 and result.n_trials == 200


def test_dsr_from_moments_equals_dsr_from_returns() -> None:
    returns = np.random.default_rng(3).normal(0.001, 0.01, size=800)
    from_returns = deflated_sharpe_ratio(returns, n_trials=50, sharpe_variance=0.001)
    moments = sharpe_moments(returns)
    from_moments = deflated_sharpe_ratio(moments=moments, n_trials=50, sharpe_variance=0.001)
    assert from_returns == from_moments


def test_dsr_reproduces_the_papers_numerical_example() -> None:
    # Bailey & Lopez de Prado (2014): annualised SR 2.5 over 1250 days, skew -3,
    # kurtosis 10, N = 100 trials with annualised Sharpe variance 1/2
    # -> SR0 ~ 0.1132 (daily) and DSR ~ 0.9004.
    moments = SharpeMoments(sharpe=2.5 / math.sqrt(250), skewness=-3, kurtosis=10, n_obs=1250)
    result = deflated_sharpe_ratio(moments=moments, n_trials=100, sharpe_variance=0.5 / 250)
    assert round(result.expected_max_sharpe, 4) == 0.1132
    assert round(result.probability, 4) == 0.9004


def test_dsr_rises_with_track_record_length_and_falls_with_trials() -> None:
    def dsr(n_obs: int, n_trials: float) -> float:
        moments = SharpeMoments(sharpe=0.12, skewness=-0.5, kurtosis=6.0, n_obs=n_obs)
        return deflated_sharpe_ratio(
            moments=moments, n_trials=n_trials, sharpe_variance=0.002
        ).probability

    by_length = [dsr(n, 100) for n in (50, 250, 1000, 2500, 5000)]
    assert all(a < b for a, b in zip(by_length, by_length[1:], strict=False))
    by_trials = [dsr(1250, n) for n in (2, 10, 100, 1000, 10_000)]
    assert all(a > b for a, b in zip(by_trials, by_trials[1:], strict=False))
    sr0 = [expected_max_sharpe(n, 0.002) for n in (2, 10, 100, 1000)]
    assert all(a < b for a, b in zip(sr0, sr0[1:], strict=False))


def test_expected_max_sharpe_tracks_simulated_maxima() -> None:
    # E[max of N iid N(0, V)] is what SR0 approximates (within a few percent).
    rng = np.random.default_rng(4)
    for n_trials in (10, 100, 1000):
        simulated = rng.normal(0.0, 0.05, size=(4000, n_trials)).max(axis=1).mean()
        assert expected_max_sharpe(n_trials, 0.05**2) == pytest.approx(simulated, rel=0.05)


def test_zero_trial_variance_reduces_dsr_to_psr_against_zero() -> None:
    moments = SharpeMoments(sharpe=0.05, skewness=0.2, kurtosis=4.0, n_obs=500)
    result = deflated_sharpe_ratio(moments=moments, n_trials=20, sharpe_variance=0.0)
    assert result.expected_max_sharpe == 0.0
    assert result.probability == probabilistic_sharpe_ratio(moments, 0.0)
    z = 0.05 * math.sqrt(499) / math.sqrt(1 - 0.2 * 0.05 + 3 / 4 * 0.05**2)
    assert abs(result.probability - normal_cdf(z)) < TOL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 1, "sharpe_variance": 0.01}, "n_trials must be > 1"),
        ({"n_trials": 10, "sharpe_variance": -0.01}, "sharpe_variance must be >= 0"),
        ({"n_trials": float("nan"), "sharpe_variance": 0.01}, "n_trials must be finite"),
        ({"n_trials": True, "sharpe_variance": 0.01}, "n_trials must be a real number"),
    ],
)
def test_dsr_rejects_bad_trial_inputs(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deflated_sharpe_ratio(np.array([0.01, -0.02, 0.03]), **kwargs)


def test_dsr_input_validation() -> None:
    moments = SharpeMoments(0.1, 0.0, 3.0, 100)
    with pytest.raises(ValueError, match="exactly one"):
        deflated_sharpe_ratio(n_trials=10, sharpe_variance=0.01)
    with pytest.raises(ValueError, match="exactly one"):
        deflated_sharpe_ratio([0.1, 0.2], moments=moments, n_trials=10, sharpe_variance=0.01)
    with pytest.raises(ValueError, match="constant"):
        sharpe_moments(np.full(10, 0.001))
    with pytest.raises(ValueError, match="at least 2"):
        sharpe_moments([0.01])
    with pytest.raises(ValueError, match=r"returns\[1\] must be finite"):
        sharpe_moments([0.01, float("nan"), 0.02])
    with pytest.raises(ValueError, match="n_obs must be >= 2"):
        SharpeMoments(0.1, 0.0, 3.0, 1)
    with pytest.raises(ValueError, match="kurtosis must be finite"):
        SharpeMoments(0.1, 0.0, float("inf"), 100)
    # Excess kurtosis passed by mistake can make the variance term negative.
    with pytest.raises(ValueError, match="non-excess kurtosis"):
        probabilistic_sharpe_ratio(SharpeMoments(1.5, 1.0, 0.0, 100))


# --- independent PBO: explicit loops over itertools.combinations with pandas ranks ----------


def independent_pbo(
    performance: np.ndarray, n_splits: int, metric: str = "sharpe"
) -> tuple[float, list[float], list[int]]:
    frame = pd.DataFrame(performance)
    n_rows, n_configs = performance.shape
    sizes = [n_rows // n_splits + (1 if b < n_rows % n_splits else 0) for b in range(n_splits)]
    starts = [sum(sizes[:b]) for b in range(n_splits)]
    blocks = [list(range(starts[b], starts[b] + sizes[b])) for b in range(n_splits)]

    def score(rows: list[int]) -> pd.Series:
        part = frame.iloc[rows]
        if metric == "sharpe":
            return part.mean() / part.std(ddof=1)  # ddof does not change a ranking
        return part.sum()

    logits: list[float] = []
    chosen: list[int] = []
    for in_sample in combinations(range(n_splits), n_splits // 2):
        rows_in = [r for b in in_sample for r in blocks[b]]
        rows_out = [r for b in range(n_splits) if b not in in_sample for r in blocks[b]]
        best = int(score(rows_in).idxmax())  # first maximum on ties
        rank = score(rows_out).rank(method="average")[best]
        omega = rank / (n_configs + 1)
        logits.append(math.log(omega / (1 - omega)))
        chosen.append(best)
    pbo = sum(1 for value in logits if value <= 0) / len(logits)
    return pbo, logits, chosen


@pytest.mark.parametrize(
    ("seed", "n_rows", "n_configs", "n_splits"),
    [(0, 240, 12, 8), (1, 203, 9, 6), (2, 150, 30, 10), (3, 64, 5, 2)],
)
def test_pbo_matches_an_independent_computation(
    seed: int, n_rows: int, n_configs: int, n_splits: int
) -> None:
    rng = np.random.default_rng(seed)
    # Configurations with slightly different edges and a common factor.
    common = rng.normal(0.0, 0.01, size=(n_rows, 1))
    performance = common + rng.normal(0.0, 0.01, size=(n_rows, n_configs))
    performance += rng.normal(0.0, 0.001, size=n_configs)
    expected_pbo, expected_logits, expected_chosen = independent_pbo(performance, n_splits)
    for metric in (None, sharpe_ratios):
        result = probability_of_backtest_overfitting(performance, n_splits, metric=metric)
        assert result.pbo == expected_pbo
        assert len(result.logits) == math.comb(n_splits, n_splits // 2)
        assert np.max(np.abs(result.logits - np.array(expected_logits))) < TOL
        assert result.best_in_sample.tolist() == expected_chosen
        assert np.allclose(
            np.log(result.relative_ranks / (1 - result.relative_ranks)), result.logits
        )
    if n_splits > 2:  # two combinations are too few to expect both outcomes
        assert 0.0 < expected_pbo < 1.0


def test_pbo_with_custom_metric_and_out_of_sample_ties() -> None:
    # Integer returns make ties common; the metric is the total return.
    rng = np.random.default_rng(5)
    performance = rng.integers(-2, 3, size=(40, 6)).astype(float)
    expected_pbo, expected_logits, expected_chosen = independent_pbo(performance, 4, "sum")
    result = probability_of_backtest_overfitting(
        performance, 4, metric=lambda rows: rows.sum(axis=0)
    )
    assert result.pbo == expected_pbo
    assert np.max(np.abs(result.logits - np.array(expected_logits))) < TOL
    assert result.best_in_sample.tolist() == expected_chosen


def test_pbo_of_identically_distributed_noise_is_about_one_half() -> None:
    # No configuration has an edge: the in-sample winner's out-of-sample rank is
    # uniform, so with an even N the expected PBO is exactly 1/2.
    pbos = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(size=(160, 10)), n_splits=8
        ).pbo
        for seed in range(60)
    ]
    assert abs(float(np.mean(pbos)) - 0.5) < 0.06
    assert 0.25 < float(np.median(pbos)) < 0.75


def test_pbo_is_zero_when_one_configuration_dominates_every_block() -> None:
    rng = np.random.default_rng(6)
    performance = rng.normal(0.0, 1.0, size=(320, 8))
    performance[:, 3] += 1.0  # Sharpe ~1 per period against ~0 for the rest
    result = probability_of_backtest_overfitting(performance, n_splits=8)
    assert result.pbo == 0.0
    assert set(result.best_in_sample.tolist()) == {3}
    assert np.allclose(result.logits, math.log(8))  # always ranked N of N out-of-sample


def test_pbo_is_one_when_the_in_sample_winner_always_loses_out_of_sample() -> None:
    # Two regimes of a market: A earns in the first half and loses in the second,
    # B the reverse.  With two blocks, each half's winner is the other's loser.
    wiggle = np.tile([0.1, -0.1], 10)
    first = np.column_stack([1.0 + wiggle, -1.0 + wiggle])
    performance = np.vstack([first, -first])
    result = probability_of_backtest_overfitting(performance, n_splits=2)
    assert result.pbo == 1.0
    assert result.best_in_sample.tolist() == [0, 1]
    assert result.relative_ranks.tolist() == [1 / 3, 1 / 3]


def test_identical_configurations_tie_to_the_midrank() -> None:
    column = np.random.default_rng(7).normal(size=(32, 1))
    result = probability_of_backtest_overfitting(np.tile(column, (1, 4)), n_splits=4)
    assert result.best_in_sample.tolist() == [0] * 6  # lowest index on in-sample ties
    assert result.relative_ranks.tolist() == [0.5] * 6  # mid-rank (4 + 1) / 2 / 5
    assert result.pbo == 1.0  # logit 0 counts as overfit


def test_flat_configuration_is_ranked_not_nan() -> None:
    rng = np.random.default_rng(8)
    performance = rng.normal(0.0, 1.0, size=(64, 3))
    performance[:, 1] = 0.0  # never invested: Sharpe 0
    for metric in (None, sharpe_ratios):
        result = probability_of_backtest_overfitting(performance, n_splits=4, metric=metric)
        assert np.isfinite(result.logits).all()


def test_block_sizes_follow_array_split_when_rows_do_not_divide() -> None:
    # Config 0 earns only in row 0..2 (the first block when T=10, S=4 is 3 rows).
    performance = np.zeros((10, 2))
    performance[:, 1] = np.arange(10) % 2 * 0.1
    performance[:3, 0] = [5.0, 5.0, 5.0]
    result = probability_of_backtest_overfitting(performance, n_splits=4, metric=lambda r: r.sum(0))
    expected_pbo, expected_logits, _ = independent_pbo(performance, 4, "sum")
    assert result.pbo == expected_pbo
    assert np.max(np.abs(result.logits - np.array(expected_logits))) < TOL


def test_pbo_result_arrays_are_read_only() -> None:
    result = probability_of_backtest_overfitting(
        np.random.default_rng(9).normal(size=(40, 3)), n_splits=4
    )
    with pytest.raises(ValueError):
        result.logits[0] = 1.0


@pytest.mark.parametrize(
    ("performance", "n_splits", "message"),
    [
        (np.zeros((20, 3)), 3, "even"),
        (np.zeros((20, 3)), 0, "even"),
        (np.zeros((20, 3)), 2.0, "integer"),
        (np.zeros((5, 3)), 6, "exceeds the number of rows"),
        (np.zeros((20, 1)), 4, "at least 2 configurations"),
        (np.zeros(20), 4, "2-D"),
        (np.array([[0.0, 1.0], [np.nan, 0.0], [0.0, 0.0], [1.0, 1.0]]), 2, r"\[1, 0\]"),
    ],
)
def test_pbo_rejects_bad_input(performance: np.ndarray, n_splits: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(performance, n_splits)


def test_pbo_rejects_bad_metric_output() -> None:
    performance = np.random.default_rng(10).normal(size=(20, 3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        probability_of_backtest_overfitting(performance, 2, metric=lambda rows: rows.sum())
    with pytest.raises(ValueError, match="NaN"):
        probability_of_backtest_overfitting(performance, 2, metric=lambda rows: np.full(3, np.nan))
