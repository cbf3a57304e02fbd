"""Tests for allocator.sweep: the vectorised recursions equal the scalar ones exactly."""

from __future__ import annotations

import ast
import csv
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from allocator import regime, risk, sweep
from allocator.regime import (
    LEVELS,
    RegimeRule,
    classify_regime_frame,
    classify_regimes,
    rules_from_records,
)
from allocator.risk import smooth_risk_scalar, target_scalars
from allocator.sweep import classify_regimes_many, smooth_many, targets_many

SEED_RULES = Path(__file__).resolve().parents[2] / "seeds" / "allocator_regime_rules.csv"
FEATURES = ("f0", "f1", "f2", "f3")
LEVEL_NAMES = LEVELS[1:]

Features = dict[str, np.ndarray]


# --- reference: the scalar functions, one configuration at a time ------------------------


def rows_from(features: Mapping[str, np.ndarray], rng: np.random.Generator) -> list[dict]:
    """Feature rows for classify_regimes; NaNs randomly given as NaN, None or an absent key."""
    n_dates = len(next(iter(features.values())))
    rows: list[dict] = []
    for t in range(n_dates):
        row: dict[str, float | None] = {}
        for name, values in features.items():
            value = float(values[t])
            if math.isnan(value):
                choice = rng.integers(3)
                if choice == 0:
                    row[name] = value
                elif choice == 1:
                    row[name] = None
                continue  # choice 2: key absent
            row[name] = value
        rows.append(row)
    return rows


def config_rules(
    rules: Sequence[RegimeRule], enter: np.ndarray, exit_: np.ndarray, config: int
) -> list[RegimeRule]:
    return [
        RegimeRule(
            rule.feature,
            rule.level,
            rule.direction,
            float(enter[config, index]),
            float(exit_[config, index]),
        )
        for index, rule in enumerate(rules)
    ]


def reference_levels(
    features: Mapping[str, np.ndarray],
    rules: Sequence[RegimeRule],
    enter: np.ndarray,
    exit_: np.ndarray,
    min_days: np.ndarray,
    seed: int = 0,
) -> np.ndarray:
    rows = rows_from(features, np.random.default_rng(seed))
    columns = [
        [
            step.regime_level
            for step in classify_regimes(
                rows, config_rules(rules, enter, exit_, c), int(min_days[c])
            )
        ]
        for c in range(enter.shape[0])
    ]
    return np.array(columns, dtype=np.int64).reshape(enter.shape[0], len(rows)).T


# --- random problems ---------------------------------------------------------------------


def random_features(rng: np.random.Generator, n_dates: int) -> Features:
    """Persistent random paths with scattered NaNs and one NaN gap per feature."""
    features: Features = {}
    for name in FEATURES:
        path = 0.3 * np.cumsum(rng.normal(size=n_dates)) + rng.normal(size=n_dates)
        path[rng.random(n_dates) < 0.05] = np.nan
        start = int(rng.integers(n_dates))
        path[start : start + int(rng.integers(0, 25))] = np.nan
        features[name] = path
    return features


def random_rules(rng: np.random.Generator, n_rules: int = 9) -> list[RegimeRule]:
    """Rules on random features/directions; every level gets at least one rule."""
    levels = [*LEVEL_NAMES, *rng.choice(LEVEL_NAMES, size=n_rules - 3).tolist()]
    return [
        RegimeRule(str(rng.choice(FEATURES)), level, str(rng.choice(["above", "below"])), 0.0, 0.0)
        for level in levels
    ]


def random_thresholds(
    rng: np.random.Generator, features: Features, rules: Sequence[RegimeRule], n_configs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Enter thresholds drawn from the feature's own values, so exact ties happen.

    Exit sits on the calm side by a random gap, zero for ~15% (no hysteresis),
    and sometimes exactly on another observed value.
    """
    enter = np.empty((n_configs, len(rules)))
    exit_ = np.empty((n_configs, len(rules)))
    for index, rule in enumerate(rules):
        observed = features[rule.feature][~np.isnan(features[rule.feature])]
        calm = -1.0 if rule.direction == "above" else 1.0
        low, high = (0.55, 0.97) if rule.direction == "above" else (0.03, 0.45)
        quantiles = rng.uniform(low, high, size=n_configs)
        enter[:, index] = np.sort(observed)[(quantiles * (len(observed) - 1)).astype(int)]
        gap = rng.uniform(0.0, 1.0, size=n_configs) * (rng.random(n_configs) > 0.15)
        exit_[:, index] = enter[:, index] + calm * gap
        on_value = rng.random(n_configs) < 0.2
        candidates = rng.choice(observed, size=n_configs)
        valid = on_value & (calm * (candidates - enter[:, index]) >= 0)
        exit_[valid, index] = candidates[valid]
    return enter, exit_


def random_problem(
    seed: int, n_dates: int = 500, n_configs: int = 50
) -> tuple[Features, list[RegimeRule], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = random_features(rng, n_dates)
    rules = random_rules(rng)
    enter, exit_ = random_thresholds(rng, features, rules, n_configs)
    min_days = rng.integers(1, 12, size=n_configs)
    return features, rules, enter, exit_, min_days


# --- classify_regimes_many == classify_regimes ---------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_many_equals_scalar_classifier_on_random_paths(seed: int) -> None:
    features, rules, enter, exit_, min_days = random_problem(seed)
    levels = classify_regimes_many(features, rules, enter, exit_, min_days)
    assert levels.dtype == np.int8
    assert levels.shape == (500, 50)
    expected = reference_levels(features, rules, enter, exit_, min_days, seed)
    assert np.array_equal(levels, expected)
    # The comparison is only meaningful if every level and plenty of changes occur.
    assert set(np.unique(levels).tolist()) == {0, 1, 2, 3}
    assert np.count_nonzero(np.diff(levels, axis=0) < 0) > 100  # de-escalations
    assert np.count_nonzero(np.diff(levels, axis=0) > 0) > 100  # escalations


def read_seed_rules() -> tuple[RegimeRule, ...]:
    """The seeds' own calibration (its features are the ones demo_features draws)."""
    with SEED_RULES.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["calibration"] == "seeds_v1"]
    return rules_from_records(rows)


def demo_features(rng: np.random.Generator, n_dates: int) -> Features:
    """Mean-reverting paths spanning the demo thresholds, with NaN warm-up and gaps."""

    def path(centre: float, spread: float, persistence: float = 0.97) -> np.ndarray:
        shocks = rng.normal(scale=spread * math.sqrt(1 - persistence**2), size=n_dates)
        out = np.empty(n_dates)
        level = 0.0
        for t in range(n_dates):
            level = persistence * level + shocks[t]
            out[t] = centre + level
        out[:20] = np.nan  # rolling-window warm-up
        out[rng.random(n_dates) < 0.02] = np.nan
        return out

    return {
        "corr_20d": path(0.45, 0.15),
        "vol_accel": path(1.1, 0.3),
        "rvol_ratio_long_run": path(1.6, 0.7),
        "dd_vol_units": -np.abs(path(0.0, 1.0)),
    }


def test_many_equals_scalar_classifier_on_demo_seed_rules() -> None:
    rules = read_seed_rules()
    assert len(rules) == 9
    rng = np.random.default_rng(13)
    features = demo_features(rng, 600)
    n_configs = 40
    # Per-level scale of both thresholds (positive, so the exit stays on the calm side).
    level_scale = rng.uniform(0.8, 1.2, size=(n_configs, len(LEVELS)))
    level_scale[0] = 1.0  # config 0 is the seed exactly
    severity = np.array([rule.severity for rule in rules])
    base_enter = np.array([rule.enter_threshold for rule in rules])
    base_exit = np.array([rule.exit_threshold for rule in rules])
    enter = base_enter * level_scale[:, severity]
    exit_ = base_exit * level_scale[:, severity]
    min_days = rng.integers(1, 10, size=n_configs)
    min_days[0] = 5

    levels = classify_regimes_many(features, rules, enter, exit_, min_days)
    assert np.array_equal(levels, reference_levels(features, rules, enter, exit_, min_days))
    assert set(np.unique(levels).tolist()) == {0, 1, 2, 3}
    # Config 0 is the production path: the pandas wrapper on the seed rules.
    frame = classify_regime_frame(pd.DataFrame(features), rules, min_days=5)
    assert levels[:, 0].tolist() == frame["regime_level"].tolist()


def test_full_pipeline_equals_scalar_risk_functions_exactly() -> None:
    rules = read_seed_rules()
    rng = np.random.default_rng(21)
    features = demo_features(rng, 500)
    n_configs = 30
    enter = np.tile([rule.enter_threshold for rule in rules], (n_configs, 1))
    exit_ = np.tile([rule.exit_threshold for rule in rules], (n_configs, 1))
    min_days = rng.integers(1, 8, size=n_configs)
    scalar_maps = np.sort(rng.uniform(0.1, 1.2, size=(n_configs, 4)), axis=1)[:, ::-1]
    scalar_maps[0] = [risk.DEFAULT_REGIME_TARGETS[name] for name in LEVELS]
    alpha = rng.uniform(0.02, 1.0, size=n_configs)
    alpha[1] = 1.0
    floor = rng.uniform(0.1, 0.4, size=n_configs)
    cap = floor + rng.uniform(0.0, 0.8, size=n_configs)
    cap[2] = floor[2]

    levels = classify_regimes_many(features, rules, enter, exit_, min_days)
    targets = targets_many(levels, scalar_maps)
    smoothed = smooth_many(targets, alpha, floor, cap)
    assert targets.shape == smoothed.shape == (500, n_configs)
    for c in range(n_configs):
        labels = [LEVELS[level] for level in levels[:, c]]
        mapping = dict(zip(LEVELS, scalar_maps[c].tolist(), strict=True))
        expected_targets = target_scalars(labels, mapping)
        expected = smooth_risk_scalar(expected_targets, float(alpha[c]), float(floor[c]), cap[c])
        assert targets[:, c].tolist() == expected_targets
        assert smoothed[:, c].tolist() == expected  # bit-identical, not approx


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_smooth_many_is_bit_identical_on_arbitrary_targets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_dates, n_configs = 500, 50
    targets = rng.uniform(-0.5, 2.0, size=(n_dates, n_configs))
    alpha = rng.uniform(0.0, 1.0, size=n_configs)
    alpha[alpha == 0.0] = 0.5
    alpha[:3] = [1.0, 1e-6, 0.25]
    floor = rng.uniform(0.05, 0.5, size=n_configs)
    cap = floor + rng.uniform(0.0, 1.0, size=n_configs)
    out = smooth_many(targets, alpha, floor, cap)
    for c in range(n_configs):
        expected = smooth_risk_scalar(
            targets[:, c].tolist(), float(alpha[c]), float(floor[c]), float(cap[c])
        )
        assert out[:, c].tolist() == expected
    # Both clip bounds bind somewhere, so the unclipped recursion is exercised.
    assert (out == floor).any() and (out == cap).any()


# --- edge cases --------------------------------------------------------------------------


def small_problem() -> tuple[Features, list[RegimeRule], np.ndarray, np.ndarray, np.ndarray]:
    features, rules, enter, exit_, min_days = random_problem(11, n_dates=60, n_configs=7)
    return features, rules, enter, exit_, min_days


def assert_matches_reference(
    features: Features,
    rules: Sequence[RegimeRule],
    enter: np.ndarray,
    exit_: np.ndarray,
    min_days: np.ndarray,
) -> np.ndarray:
    levels = classify_regimes_many(features, rules, enter, exit_, min_days)
    expected = reference_levels(features, rules, enter, exit_, min_days)
    assert levels.shape == expected.shape
    assert np.array_equal(levels, expected)
    return levels


def test_one_date() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    first = {name: values[:1] for name, values in features.items()}
    levels = assert_matches_reference(first, rules, enter, exit_, min_days)
    assert levels.shape == (1, 7)


def test_one_config() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    levels = assert_matches_reference(features, rules, enter[3:4], exit_[3:4], min_days[3:4])
    assert levels.shape == (60, 1)


def test_zero_dates_gives_empty_result() -> None:
    _, rules, enter, exit_, min_days = small_problem()
    empty = {name: np.array([]) for name in FEATURES}
    levels = classify_regimes_many(empty, rules, enter, exit_, min_days)
    assert levels.shape == (0, 7) and levels.dtype == np.int8


def test_all_nan_feature_makes_its_rules_inert() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    features["f0"] = np.full(60, np.nan)
    levels = assert_matches_reference(features, rules, enter, exit_, min_days)
    # Same as dropping f0's rules altogether, or dropping the feature from the mapping.
    keep = [i for i, rule in enumerate(rules) if rule.feature != "f0"]
    without = classify_regimes_many(
        features, [rules[i] for i in keep], enter[:, keep], exit_[:, keep], min_days
    )
    assert np.array_equal(levels, without)
    absent = {name: values for name, values in features.items() if name != "f0"}
    assert np.array_equal(levels, classify_regimes_many(absent, rules, enter, exit_, min_days))


def test_equal_enter_and_exit_means_no_hysteresis() -> None:
    features, rules, enter, _, min_days = small_problem()
    levels = assert_matches_reference(features, rules, enter, enter.copy(), min_days)
    assert np.count_nonzero(np.diff(levels, axis=0)) > 0


def test_no_rules_is_always_normal() -> None:
    features, _, _, _, _ = small_problem()
    levels = classify_regimes_many(
        features, [], np.empty((4, 0)), np.empty((4, 0)), np.ones(4, dtype=int)
    )
    assert levels.shape == (60, 4) and not levels.any()


def test_infinite_and_integer_features_behave_like_the_scalar_classifier() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    features["f1"][[5, 6, 30]] = [np.inf, -np.inf, np.inf]
    features["f2"] = np.round(np.nan_to_num(features["f2"]) * 3).astype(np.int64)
    assert_matches_reference(features, rules, enter, exit_, min_days)


def test_exact_threshold_hits_with_hand_made_path() -> None:
    # Values exactly at enter/exit for both directions, min_days 1 and 3.
    rules = [
        RegimeRule("vol", "ELEVATED", "above", 1.5, 1.2),
        RegimeRule("dd", "CRISIS", "below", -0.2, -0.15),
    ]
    features = {
        "vol": np.array([1.5, 1.2, np.nextafter(1.2, 0), 1.0, 1.5, np.nan, 1.2]),
        "dd": np.array([0.0, -0.2, -0.15, np.nextafter(-0.15, 0), 0.0, 0.0, 0.0]),
    }
    enter = np.array([[1.5, -0.2], [1.5, -0.2]])
    exit_ = np.array([[1.2, -0.15], [1.2, -0.15]])
    levels = assert_matches_reference(features, rules, enter, exit_, np.array([1, 3]))
    assert levels[:, 0].tolist() == [1, 3, 3, 2, 1, 0, 0]


# --- validation --------------------------------------------------------------------------


def test_rejects_wrong_threshold_shapes() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    with pytest.raises(ValueError, match=r"enter must have shape \(n_configs, 9\)"):
        classify_regimes_many(features, rules, enter[:, :-1], exit_, min_days)
    with pytest.raises(ValueError, match="exit must have the shape of enter"):
        classify_regimes_many(features, rules, enter, exit_[:-1], min_days)
    with pytest.raises(ValueError, match=r"min_days must have shape \(7,\)"):
        classify_regimes_many(features, rules, enter, exit_, min_days[:-1])


def test_exit_on_the_wrong_side_names_config_and_rule() -> None:
    rules = [
        RegimeRule("vol", "ELEVATED", "above", 1.5, 1.2),
        RegimeRule("dd", "CRISIS", "below", -0.2, -0.15),
    ]
    features = {"vol": np.ones(3), "dd": np.zeros(3)}
    enter = np.array([[1.5, -0.2], [1.5, -0.2], [1.5, -0.2]])
    bad_above = np.array([[1.2, -0.15], [1.6, -0.15], [1.2, -0.15]])
    with pytest.raises(ValueError, match=r"config 1, rule #0 \(feature='vol'.*must be <="):
        classify_regimes_many(features, rules, enter, bad_above, np.ones(3, dtype=int))
    bad_below = np.array([[1.2, -0.15], [1.2, -0.15], [1.2, -0.25]])
    with pytest.raises(ValueError, match=r"config 2, rule #1 \(feature='dd', level='CRISIS'"):
        classify_regimes_many(features, rules, enter, bad_below, np.ones(3, dtype=int))


def test_non_finite_thresholds_and_bad_min_days_are_named() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    enter_nan = enter.copy()
    enter_nan[4, 2] = np.nan
    with pytest.raises(ValueError, match="config 4, rule #2 .*enter must be finite"):
        classify_regimes_many(features, rules, enter_nan, exit_, min_days)
    too_few = min_days.copy()
    too_few[5] = 0
    with pytest.raises(ValueError, match="config 5: min_days must be >= 1"):
        classify_regimes_many(features, rules, enter, exit_, too_few)
    with pytest.raises(ValueError, match="min_days must be an integer array"):
        classify_regimes_many(features, rules, enter, exit_, min_days.astype(float))
    with pytest.raises(ValueError, match="min_days must be an integer array"):
        classify_regimes_many(features, rules, enter, exit_, np.ones(7, dtype=bool))


def test_rejects_bad_features_and_rules() -> None:
    features, rules, enter, exit_, min_days = small_problem()
    with pytest.raises(ValueError, match="at least one array"):
        classify_regimes_many({}, rules, enter, exit_, min_days)
    uneven = {**features, "f1": features["f1"][:-1]}
    with pytest.raises(ValueError, match="same length"):
        classify_regimes_many(uneven, rules, enter, exit_, min_days)
    with pytest.raises(ValueError, match="must be 1-D"):
        classify_regimes_many({"f0": np.zeros((3, 2))}, rules, enter, exit_, min_days)
    with pytest.raises(TypeError, match="'f0'"):
        classify_regimes_many({"f0": np.array(["1.5"])}, rules, enter, exit_, min_days)
    with pytest.raises(TypeError, match="RegimeRule"):
        classify_regimes_many(features, [{"feature": "f0"}], enter[:, :1], exit_[:, :1], min_days)  # type: ignore[list-item]


def test_smooth_many_validation_names_config_and_date() -> None:
    targets = np.ones((5, 3))
    ones = np.ones(3)
    with pytest.raises(ValueError, match="config 1: alpha"):
        smooth_many(targets, np.array([0.5, 0.0, 0.5]), ones * 0.25, ones)
    with pytest.raises(ValueError, match="config 2: alpha"):
        smooth_many(targets, np.array([0.5, 0.5, 1.01]), ones * 0.25, ones)
    with pytest.raises(ValueError, match="config 0: alpha must be finite"):
        smooth_many(targets, np.array([np.nan, 0.5, 0.5]), ones * 0.25, ones)
    with pytest.raises(ValueError, match="config 1: need 0 < floor <= cap"):
        smooth_many(targets, ones * 0.5, np.array([0.25, 0.8, 0.25]), np.array([1, 0.5, 1]))
    with pytest.raises(ValueError, match="config 0: need 0 < floor"):
        smooth_many(targets, ones * 0.5, np.array([0.0, 0.25, 0.25]), ones)
    bad = targets.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match=r"targets\[3, 2\] \(date #3, config 2\)"):
        smooth_many(bad, ones * 0.5, ones * 0.25, ones)
    with pytest.raises(ValueError, match="2-D"):
        smooth_many(np.ones(5), ones[:1], ones[:1], ones[:1])
    with pytest.raises(ValueError, match=r"alpha must have shape \(3,\)"):
        smooth_many(targets, ones[:2], ones * 0.25, ones)
    assert smooth_many(np.empty((0, 3)), ones * 0.5, ones * 0.25, ones).shape == (0, 3)


def test_targets_many_maps_levels_and_validates() -> None:
    levels = np.array([[0, 3], [1, 2], [3, 0]], dtype=np.int8)
    maps = np.array([[1.0, 0.85, 0.55, 0.3], [0.9, 0.7, 0.5, 0.2]])
    assert targets_many(levels, maps).tolist() == [[1.0, 0.2], [0.85, 0.5], [0.3, 0.9]]
    with pytest.raises(ValueError, match=r"levels\[1, 1\] = 4"):
        targets_many(np.array([[0, 3], [1, 4]]), maps)
    with pytest.raises(ValueError, match=r"levels\[0, 0\] = -1"):
        targets_many(np.array([[-1, 3]]), maps)
    with pytest.raises(ValueError, match=r"scalar_maps must have shape \(2, 4\)"):
        targets_many(levels, maps[:, :3])
    with pytest.raises(ValueError, match="config 1: target for STRESS must be finite"):
        targets_many(levels, np.array([[1.0, 0.85, 0.55, 0.3], [0.9, 0.7, np.nan, 0.2]]))
    with pytest.raises(ValueError, match="integer array"):
        targets_many(levels.astype(float), maps)


# --- vectorisation (structural, no timing) ----------------------------------------------


def _line_events_in_sweep(call: Callable[[], Any]) -> int:
    """Count Python line events executed inside allocator/sweep.py during ``call``."""
    target = sweep.__file__
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        nonlocal count
        if frame.f_code.co_filename != target:
            return None
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def test_python_work_does_not_grow_with_the_number_of_configs() -> None:
    features, rules, enter, exit_, min_days = random_problem(8, n_dates=40, n_configs=200)

    def run(n_configs: int) -> Callable[[], None]:
        def call() -> None:
            levels = classify_regimes_many(
                features, rules, enter[:n_configs], exit_[:n_configs], min_days[:n_configs]
            )
            maps = np.tile([1.0, 0.85, 0.55, 0.3], (n_configs, 1))
            params = np.full(n_configs, 0.25)
            smooth_many(targets_many(levels, maps), params, params, np.ones(n_configs))

        return call

    one, many = _line_events_in_sweep(run(1)), _line_events_in_sweep(run(200))
    assert one > 40  # the tracer does see the date loops
    assert one == many


def test_sweep_never_calls_the_scalar_implementations(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sweep must not fall back to the scalar code")

    monkeypatch.setattr(regime, "classify_regimes", forbidden)
    monkeypatch.setattr(regime, "_step", forbidden)
    monkeypatch.setattr(RegimeRule, "enters", forbidden)
    monkeypatch.setattr(RegimeRule, "holds", forbidden)
    monkeypatch.setattr(risk, "smooth_risk_scalar", forbidden)
    monkeypatch.setattr(risk, "target_scalars", forbidden)
    features, rules, enter, exit_, min_days = small_problem()
    levels = classify_regimes_many(features, rules, enter, exit_, min_days)
    smooth_many(
        targets_many(levels, np.tile([1.0, 0.85, 0.55, 0.3], (7, 1))),
        np.full(7, 0.25),
        np.full(7, 0.25),
        np.ones(7),
    )


def test_no_loop_nested_in_a_loop_in_the_sweep_module() -> None:
    tree = ast.parse(inspect.getsource(sweep))
    loops = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    for outer in ast.walk(tree):
        if isinstance(outer, (ast.For, ast.While)):
            inner = [node for child in outer.body for node in ast.walk(child)]
            assert not [node for node in inner if isinstance(node, loops)], ast.unparse(outer)
    # And the helpers called per date hold no loops of their own.
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    date_loop = next(
        node for node in ast.walk(functions["classify_regimes_many"]) if isinstance(node, ast.For)
    )
    called = {
        node.func.id
        for node in ast.walk(date_loop)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"_entry_level", "_holds_current", "_advance"} <= called
    for name in called & functions.keys():
        assert not [node for node in ast.walk(functions[name]) if isinstance(node, loops)], name
