"""The regime and risk recursions for many configurations at once (Stage 7 tuning).

Tuning the governor means evaluating thousands of configurations (threshold
scales, ``min_days``, target maps, EWMA ``alpha``) on the same feature
history.  Running :func:`allocator.regime.classify_regimes` and
:func:`allocator.risk.smooth_risk_scalar` once per configuration costs a Python
loop over dates *and* rules *per configuration*.  Here each recursion steps
through the dates once and carries the state of every configuration in numpy
arrays, so the Python-level work is O(n_dates) whatever the number of
configurations.

The functions reproduce the single-configuration semantics exactly (the test
suite compares them with ``==``), not approximately:

* :func:`classify_regimes_many` implements the same state machine as
  ``regime._step``: immediate escalation to the highest level entered,
  de-escalation by one level when no rule of the current level holds and the
  previous ``days_in_regime >= min_days``, and missing (NaN) values never
  entering nor holding a rule.
* :func:`smooth_many` evaluates ``alpha * target + (1.0 - alpha) * state`` with
  the same IEEE-754 double operations in the same order as
  ``smooth_risk_scalar``, so results are bit-identical column by column.

Only the classifier's *levels* are produced: ``entered_by`` strings and
``days_in_regime`` exist to explain one run, and building them for every
configuration would cost more than the sweep itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from allocator.regime import LEVELS, RegimeRule

__all__ = ["classify_regimes_many", "smooth_many", "targets_many"]

#: Number of regime levels (NORMAL..CRISIS); levels are 0..N_LEVELS-1.
N_LEVELS: int = len(LEVELS)


# --- validation helpers ------------------------------------------------------------------


def _rule_label(index: int, rule: RegimeRule) -> str:
    """Name a rule in error messages the way a seed row would be recognised."""
    return f"rule #{index} (feature={rule.feature!r}, level={rule.level!r})"


def _checked_rules(rules: Sequence[RegimeRule]) -> tuple[RegimeRule, ...]:
    """Refuse anything but RegimeRule: only validated rules carry a level and direction."""
    checked = tuple(rules)
    for rule in checked:
        if not isinstance(rule, RegimeRule):
            raise TypeError(f"rules must be RegimeRule instances, got {rule!r}")
    return checked


def _real_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """Convert to float64, refusing booleans, strings, objects and complex numbers.

    Mirrors the scalar code, which treats a boolean or a string where a number
    is expected as a data bug rather than coercing it.
    """
    array = np.asarray(values)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def _config_vector(name: str, values: ArrayLike, n_configs: int) -> NDArray[np.float64]:
    """A finite float per configuration, shape ``(n_configs,)``."""
    vector = _real_array(name, values)
    if vector.shape != (n_configs,):
        raise ValueError(f"{name} must have shape ({n_configs},), got {vector.shape}")
    bad = np.flatnonzero(~np.isfinite(vector))
    if bad.size:
        raise ValueError(f"config {bad[0]}: {name} must be finite, got {vector[bad[0]].item()!r}")
    return vector


def _first_bad_config(mask: NDArray[np.bool_]) -> int | None:
    """Index of the first configuration flagged in ``mask``, or None."""
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _threshold_matrix(
    name: str, values: ArrayLike, rules: tuple[RegimeRule, ...]
) -> NDArray[np.float64]:
    """Per-configuration thresholds, shape ``(n_configs, n_rules)``, all finite.

    A NaN threshold would make a rule silently inert, which is why the scalar
    :class:`RegimeRule` refuses it too.
    """
    matrix = _real_array(name, values)
    if matrix.ndim != 2 or matrix.shape[1] != len(rules):
        raise ValueError(
            f"{name} must have shape (n_configs, {len(rules)}) (one column per rule), "
            f"got {matrix.shape}"
        )
    bad = np.argwhere(~np.isfinite(matrix))
    if bad.size:
        config, rule = (int(i) for i in bad[0])
        raise ValueError(
            f"config {config}, {_rule_label(rule, rules[rule])}: {name} must be finite, "
            f"got {matrix[config, rule].item()!r}"
        )
    return matrix


def _check_hysteresis_order(
    enter: NDArray[np.float64],
    exit_: NDArray[np.float64],
    rules: tuple[RegimeRule, ...],
    sign: NDArray[np.float64],
) -> None:
    """Exit must be on the calm side of enter (or equal), as RegimeRule demands."""
    bad = np.argwhere(exit_ * sign > enter * sign)
    if not bad.size:
        return
    config, index = (int(i) for i in bad[0])
    rule = rules[index]
    relation = "<=" if rule.direction == "above" else ">="
    raise ValueError(
        f"config {config}, {_rule_label(index, rule)}: for direction {rule.direction!r} "
        f"exit ({exit_[config, index].item()!r}) must be {relation} "
        f"enter ({enter[config, index].item()!r})"
    )


def _min_days_vector(values: ArrayLike, n_configs: int) -> NDArray[np.int64]:
    """Integers >= 1, one per configuration (floats refused, as in classify_regimes)."""
    array = np.asarray(values)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"min_days must be an integer array, got dtype {array.dtype}")
    if array.shape != (n_configs,):
        raise ValueError(f"min_days must have shape ({n_configs},), got {array.shape}")
    config = _first_bad_config(array < 1)
    if config is not None:
        raise ValueError(f"config {config}: min_days must be >= 1, got {array[config].item()!r}")
    return array.astype(np.int64, copy=False)


def _n_dates(features: Mapping[str, ArrayLike]) -> int:
    """Common length of every feature array (each must be 1-D and real)."""
    if not features:
        raise ValueError("features must contain at least one array (it fixes n_dates)")
    lengths: dict[int, str] = {}
    for name, values in features.items():
        array = _real_array(f"feature {name!r}", values)
        if array.ndim != 1:
            raise ValueError(f"feature {name!r} must be 1-D (n_dates,), got shape {array.shape}")
        lengths.setdefault(array.shape[0], name)
    if len(lengths) > 1:
        shown = ", ".join(f"{name!r}: {length}" for length, name in lengths.items())
        raise ValueError(f"feature arrays must all have the same length, got {shown}")
    return next(iter(lengths))


# --- classification ----------------------------------------------------------------------


def _direction_signs(rules: tuple[RegimeRule, ...]) -> NDArray[np.float64]:
    """+1 for 'above' rules, -1 for 'below' rules.

    Negation is exact in IEEE-754, so ``value <= threshold`` is the same test
    as ``-value >= -threshold`` for every non-NaN value (infinities and signed
    zeros included).  Flipping 'below' rules lets one ``>=`` serve all rules.
    """
    return np.array([1.0 if rule.direction == "above" else -1.0 for rule in rules])


def _signed_feature_matrix(
    features: Mapping[str, ArrayLike],
    rules: tuple[RegimeRule, ...],
    sign: NDArray[np.float64],
    n_dates: int,
) -> NDArray[np.float64]:
    """Each rule's feature series, sign-flipped for 'below' rules: ``(n_dates, n_rules)``.

    A rule whose feature is absent from ``features`` gets an all-NaN column,
    i.e. it is inert, exactly as classify_regimes treats an absent feature.
    """
    columns = np.full((n_dates, len(rules)), np.nan)
    for index, rule in enumerate(rules):
        if rule.feature in features:
            columns[:, index] = np.asarray(features[rule.feature], dtype=np.float64)
    return columns * sign


def _entry_level(crossed: NDArray[np.bool_], severity: NDArray[np.int8]) -> NDArray[np.int8]:
    """Highest level with a rule past its enter threshold, per configuration (0 if none).

    ``crossed`` is ``(n_rules, n_configs)``; a NaN value compared with ``>=`` is
    False, so missing features never enter.
    """
    return np.max(crossed * severity, axis=0, initial=0).astype(np.int8, copy=False)


def _holds_current(
    held: NDArray[np.bool_], severity: NDArray[np.int8], current: NDArray[np.int8]
) -> NDArray[np.bool_]:
    """True where some rule *of the configuration's current level* is past its exit."""
    return np.any(held & (severity == current), axis=0)


def _advance(
    current: NDArray[np.int8],
    days: NDArray[np.int64],
    target: NDArray[np.int8],
    holding: NDArray[np.bool_],
    min_days: NDArray[np.int64],
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """One day of regime._step for all configurations (levels and days_in_regime)."""
    escalate = target > current
    drop = ~escalate & (current > 0) & ~holding & (days >= min_days)
    level = np.where(escalate, target, current - drop.astype(np.int8)).astype(np.int8)
    return level, np.where(escalate | drop, 1, days + 1)


def classify_regimes_many(
    features: Mapping[str, ArrayLike],
    rules: Sequence[RegimeRule],
    enter: ArrayLike,
    exit: ArrayLike,
    min_days: ArrayLike,
) -> NDArray[np.int8]:
    """Regime levels of many threshold/min_days configurations, side by side.

    ``features`` maps a feature name to a float array of shape ``(n_dates,)``
    in date order (NaN = missing; a rule whose feature is absent is inert).
    ``rules`` supplies each rule's feature, level and direction; its own
    thresholds are ignored in favour of ``enter`` and ``exit``, arrays of
    shape ``(n_configs, n_rules)``, so a configuration may scale thresholds per
    rule or per level.  ``min_days`` is ``(n_configs,)`` integers >= 1.

    Returns an int8 array ``(n_dates, n_configs)`` of levels 0..3
    (NORMAL..CRISIS).  Column ``c`` equals ``[s.regime_level for s in
    classify_regimes(rows, rules_c, min_days[c])]`` where ``rules_c`` are the
    rules with configuration ``c``'s thresholds.

    Thresholds are validated like :class:`RegimeRule` (finite; exit on the
    calm side of enter or equal) and errors name the configuration and rule.
    Memory is O(n_dates * n_configs) for the output plus O(n_rules *
    n_configs) per step.
    """
    checked = _checked_rules(rules)
    enter_m = _threshold_matrix("enter", enter, checked)
    exit_m = _threshold_matrix("exit", exit, checked)
    if exit_m.shape != enter_m.shape:
        raise ValueError(f"exit must have the shape of enter {enter_m.shape}, got {exit_m.shape}")
    n_configs = enter_m.shape[0]
    min_days_v = _min_days_vector(min_days, n_configs)
    sign = _direction_signs(checked)
    _check_hysteresis_order(enter_m, exit_m, checked, sign)
    n_dates = _n_dates(features)
    values = _signed_feature_matrix(features, checked, sign, n_dates)

    # Rules along axis 0 and configurations along axis 1, contiguous per rule.
    enter_t = np.ascontiguousarray((enter_m * sign).T)
    exit_t = np.ascontiguousarray((exit_m * sign).T)
    severity = np.array([rule.severity for rule in checked], dtype=np.int8).reshape(-1, 1)

    levels = np.empty((n_dates, n_configs), dtype=np.int8)
    if n_dates == 0:
        return levels
    current = _entry_level(values[0][:, None] >= enter_t, severity)
    days = np.ones(n_configs, dtype=np.int64)
    levels[0] = current
    for t in range(1, n_dates):
        column = values[t][:, None]
        target = _entry_level(column >= enter_t, severity)
        holding = _holds_current(column >= exit_t, severity, current)
        current, days = _advance(current, days, target, holding, min_days_v)
        levels[t] = current
    return levels


# --- risk scalar -------------------------------------------------------------------------


def targets_many(levels: ArrayLike, scalar_maps: ArrayLike) -> NDArray[np.float64]:
    """Target scalar per date and configuration from each configuration's level map.

    ``levels`` is ``(n_dates, n_configs)`` integers 0..3 (as returned by
    :func:`classify_regimes_many`); ``scalar_maps`` is ``(n_configs, 4)``, the
    target for NORMAL..CRISIS of each configuration.  Values are copied, not
    computed, so they equal ``risk.target_scalars`` exactly.  Out-of-range
    levels raise rather than wrap, for the same reason an unknown regime label
    does in target_scalars.
    """
    level_array = np.asarray(levels)
    if level_array.dtype == np.bool_ or not np.issubdtype(level_array.dtype, np.integer):
        raise ValueError(f"levels must be an integer array, got dtype {level_array.dtype}")
    if level_array.ndim != 2:
        raise ValueError(f"levels must be 2-D (n_dates, n_configs), got {level_array.shape}")
    n_configs = level_array.shape[1]
    maps = _real_array("scalar_maps", scalar_maps)
    if maps.shape != (n_configs, N_LEVELS):
        raise ValueError(
            f"scalar_maps must have shape ({n_configs}, {N_LEVELS}) (one target per level "
            f"{LEVELS} per config), got {maps.shape}"
        )
    bad = np.argwhere(~np.isfinite(maps))
    if bad.size:
        config, level = (int(i) for i in bad[0])
        raise ValueError(
            f"config {config}: target for {LEVELS[level]} must be finite, "
            f"got {maps[config, level].item()!r}"
        )
    outside = np.argwhere((level_array < 0) | (level_array >= N_LEVELS))
    if outside.size:
        date, config = (int(i) for i in outside[0])
        raise ValueError(
            f"levels[{date}, {config}] = {level_array[date, config].item()!r} is not a regime "
            f"level 0..{N_LEVELS - 1}"
        )
    # Fancy indexing: several times faster than np.choose for int8 levels.
    return np.ascontiguousarray(maps.T)[level_array, np.arange(n_configs)]


def smooth_many(
    targets: ArrayLike, alpha: ArrayLike, floor: ArrayLike, cap: ArrayLike
) -> NDArray[np.float64]:
    """EWMA-smooth and clip each configuration's targets, one column per configuration.

    ``targets`` is ``(n_dates, n_configs)``; ``alpha``, ``floor`` and ``cap``
    are ``(n_configs,)``.  Same recursion as ``risk.smooth_risk_scalar``:
    ``s_0 = target_0``, ``s_t = alpha * target_t + (1.0 - alpha) * s_{t-1}`` on
    the unclipped state, output ``min(max(s_t, floor), cap)``.  The operations
    are the same float64 operations in the same order, so every column is
    bit-identical to the scalar function (no FMA, no reassociation).
    Parameter errors name the configuration; target errors the date too.
    """
    matrix = _real_array("targets", targets)
    if matrix.ndim != 2:
        raise ValueError(f"targets must be 2-D (n_dates, n_configs), got {matrix.shape}")
    n_dates, n_configs = matrix.shape
    alpha_v = _config_vector("alpha", alpha, n_configs)
    floor_v = _config_vector("floor", floor, n_configs)
    cap_v = _config_vector("cap", cap, n_configs)
    config = _first_bad_config((alpha_v <= 0.0) | (alpha_v > 1.0))
    if config is not None:
        raise ValueError(
            f"config {config}: alpha must satisfy 0 < alpha <= 1, got {alpha_v[config].item()!r}"
        )
    config = _first_bad_config((floor_v <= 0.0) | (floor_v > cap_v))
    if config is not None:
        raise ValueError(
            f"config {config}: need 0 < floor <= cap, got floor={floor_v[config].item()!r}, "
            f"cap={cap_v[config].item()!r}"
        )
    bad = np.argwhere(~np.isfinite(matrix))
    if bad.size:
        date, config = (int(i) for i in bad[0])
        raise ValueError(
            f"targets[{date}, {config}] (date #{date}, config {config}) must be finite, "
            f"got {matrix[date, config].item()!r}"
        )

    out = np.empty((n_dates, n_configs), dtype=np.float64)
    if n_dates == 0:
        return out
    keep = 1.0 - alpha_v  # the same double as (1.0 - alpha) in the scalar recursion
    state = matrix[0].copy()
    np.minimum(np.maximum(state, floor_v), cap_v, out=out[0])
    for t in range(1, n_dates):
        state = alpha_v * matrix[t] + keep * state
        np.minimum(np.maximum(state, floor_v), cap_v, out=out[t])
    return out
