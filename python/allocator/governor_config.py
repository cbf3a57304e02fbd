"""A governor-config file: one governor's absolute settings, as `allocator
tune` writes the chosen configuration and `allocator run --governor-config`
/ `two-pass --governor-config` (or the run var ``governor_config``) apply.

    {"regime_rules": [[feature, level, direction, enter, exit], ...],
     "target_scalars": {"NORMAL": 1.0, "ELEVATED": ..., "STRESS": ..., "CRISIS": ...},
     "allocator_regime_min_days": 5, "allocator_risk_ewma_alpha": 0.5,
     "allocator_risk_scalar_floor": 0.1, "allocator_risk_scalar_cap": 1.0,
     "cadence": "daily",
     "chosen_by": {...}}        # optional provenance, not a setting

The settings replace the run's calibration (rules and map) and the
allocator vars they name; they enter the run's configuration, hence its
config hash, as the canonical form :func:`check_governor_config` returns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from allocator.regime import LEVELS, RegimeRule

__all__ = [
    "CADENCES",
    "GOVERNOR_SETTINGS",
    "REGIME_FEATURES",
    "check_governor_config",
    "levels_out_of_order",
    "read_governor_config",
]

#: The settings a governor config must give (all of them: a file is a whole governor).
GOVERNOR_SETTINGS: tuple[str, ...] = (
    "regime_rules",
    "target_scalars",
    "allocator_regime_min_days",
    "allocator_risk_ewma_alpha",
    "allocator_risk_scalar_floor",
    "allocator_risk_scalar_cap",
    "cadence",
)
_PROVENANCE = "chosen_by"
# When the scalar reaches the book (the strategy's own calendar is unchanged):
#   rebalance_lagged  the seeds': at rebalances, the previous rebalance's scalar
#   rebalance         at rebalances, the scalar known at that rebalance's close
#   daily             every session, the scalar decided at the previous close
CADENCES = ("rebalance_lagged", "rebalance", "daily")
#: The features a rule can read: the columns of the regime classifier's input
#: (models/allocator/intermediate/int_allocator_regime_input.sql, bar date;
#: a unit test binds the two). Any other name is refused before a build.
REGIME_FEATURES: tuple[str, ...] = (
    "port_rvol_20d",
    "port_rvol_60d",
    "vol_accel",
    "dd_level",
    "dd_slope_10d",
    "corr_20d",
    "corr_60d",
    "corr_shock",
    "corr_excess",
    "trend_breadth_20d",
    "sleeve_concentration_60d",
    "port_rvol_long_run",
    "rvol_ratio_long_run",
    "dd_vol_units",
    "dd_slope_vol_units",
    "dd_level_252d",
    "dd_level_504d",
    "dd_252d_vol_units",
    "dd_504d_vol_units",
)
# A threshold's magnitude beyond which it is a typo, not a setting.
_THRESHOLD_BOUND = 1e6


def levels_out_of_order(rules: list[list[Any]]) -> str | None:
    """Why a rule set's levels are out of order, or None.

    For one feature and direction, a higher level must need a value at least
    as extreme as a lower level's: for `above`, STRESS enters at or above
    ELEVATED's threshold and CRISIS at or above STRESS's; for `below`, at or
    below. Otherwise the higher regime fires first, the levels swapped.
    """
    order = {level: position for position, level in enumerate(LEVELS)}
    by_feature: dict[tuple[str, str], list[tuple[int, float, str]]] = {}
    for feature, level, direction, enter, _ in rules:
        by_feature.setdefault((feature, direction), []).append((order[level], enter, level))
    for (feature, direction), entries in sorted(by_feature.items()):
        entries.sort()
        for (_, low, low_level), (_, high, high_level) in zip(entries, entries[1:], strict=False):
            if (direction == "above" and high < low) or (direction == "below" and high > low):
                return (
                    f"{feature} ({direction}): {high_level} enters at {high:g}, less extreme than "
                    f"{low_level} at {low:g}; a higher level needs a more extreme value"
                )
    return None


def _number(content: Mapping[str, Any], key: str, low: float, high: float, low_open: bool) -> float:
    value = content[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"governor config {key}: {value!r} is not a finite number")
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"governor config {key}: {value!r} is outside {bracket}{low:g}, {high:g}]")
    return float(value)


def check_governor_config(content: object) -> dict[str, Any]:
    """The validated, canonical settings (rules sorted, provenance dropped).

    Raises ValueError naming the key at fault.
    """
    if not isinstance(content, Mapping):
        raise ValueError("governor config must be a JSON object")
    unknown = sorted(set(content) - set(GOVERNOR_SETTINGS) - {_PROVENANCE})
    missing = [key for key in GOVERNOR_SETTINGS if key not in content]
    if unknown or missing:
        raise ValueError(
            f"governor config: unknown key(s) {unknown}, missing {missing}; give exactly "
            f"{', '.join(GOVERNOR_SETTINGS)} (and optionally {_PROVENANCE})"
        )
    rules = content["regime_rules"]
    if not isinstance(rules, list) or not rules:
        raise ValueError(
            "governor config regime_rules: a non-empty list of [feature, level, direction, enter, "
            "exit]"
        )
    checked = []
    for position, rule in enumerate(rules):
        if not isinstance(rule, list) or len(rule) != 5:
            raise ValueError(
                f"governor config regime_rules[{position}]: {rule!r} is not [feature, level, "
                f"direction, enter, exit]"
            )
        feature, level, direction, enter, exit_ = rule
        if feature not in REGIME_FEATURES:
            raise ValueError(
                f"governor config regime_rules[{position}]: feature {feature!r} is not a regime "
                f"input; use one of {', '.join(REGIME_FEATURES)}"
            )
        for name, value in (("enter", enter), ("exit", exit_)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or abs(value) > _THRESHOLD_BOUND
            ):
                raise ValueError(
                    f"governor config regime_rules[{position}]: {name} {value!r} is not a finite "
                    f"number within +-{_THRESHOLD_BOUND:g}"
                )
        try:
            RegimeRule(feature, level, direction, float(enter), float(exit_))
        except ValueError as exc:
            raise ValueError(f"governor config regime_rules[{position}]: {exc}") from exc
        checked.append([str(feature), str(level), str(direction), float(enter), float(exit_)])
    keys = [(rule[0], rule[1], rule[2]) for rule in checked]
    if len(set(keys)) != len(keys):
        raise ValueError(
            "governor config regime_rules: a (feature, level, direction) appears twice"
        )
    disorder = levels_out_of_order(checked)
    if disorder:
        raise ValueError(f"governor config regime_rules: levels out of order: {disorder}")
    targets = content["target_scalars"]
    if not isinstance(targets, Mapping) or sorted(targets) != sorted(LEVELS):
        raise ValueError(f"governor config target_scalars: give exactly {', '.join(LEVELS)}")
    target_scalars = {}
    for level in LEVELS:
        value = targets[level]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"governor config target_scalars.{level}: {value!r} is not in [0, 1]")
        target_scalars[level] = float(value)
    inverted = [
        f"{high} {target_scalars[high]:g} > {low} {target_scalars[low]:g}"
        for low, high in zip(LEVELS, LEVELS[1:], strict=False)
        if target_scalars[high] > target_scalars[low]
    ]
    if inverted:
        raise ValueError(
            "governor config target_scalars: a calmer regime must not be scaled down more than a "
            f"more stressed one ({'; '.join(inverted)}): give NORMAL >= ELEVATED >= STRESS >= "
            "CRISIS"
        )
    min_days = content["allocator_regime_min_days"]
    if isinstance(min_days, bool) or not isinstance(min_days, int) or not 1 <= min_days <= 2520:
        raise ValueError(
            f"governor config allocator_regime_min_days: {min_days!r} is not an integer in "
            "[1, 2520]"
        )
    floor = _number(content, "allocator_risk_scalar_floor", 0, 1, True)
    cap = _number(content, "allocator_risk_scalar_cap", 0, 1, True)
    if floor > cap:
        raise ValueError(
            f"governor config: allocator_risk_scalar_floor {floor:g} is above the cap {cap:g}"
        )
    if content["cadence"] not in CADENCES:
        raise ValueError(
            f"governor config cadence: {content['cadence']!r} is not one of {', '.join(CADENCES)}"
        )
    return {
        "regime_rules": sorted(checked, key=lambda rule: (rule[0], rule[1], rule[2])),
        "target_scalars": target_scalars,
        "allocator_regime_min_days": int(min_days),
        "allocator_risk_ewma_alpha": _number(content, "allocator_risk_ewma_alpha", 0, 1, True),
        "allocator_risk_scalar_floor": floor,
        "allocator_risk_scalar_cap": cap,
        "cadence": str(content["cadence"]),
    }


def read_governor_config(path: str | Path) -> dict[str, Any]:
    """A governor-config file's canonical settings (ValueError naming the file)."""
    file = Path(path)
    try:
        content = json.loads(file.read_text(), object_pairs_hook=_unique_keys)
    except (OSError, ValueError) as exc:
        raise ValueError(f"governor config {str(file)!r}: {exc}") from exc
    try:
        return check_governor_config(content)
    except ValueError as exc:
        raise ValueError(f"{str(file)!r}: {exc}") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique (json keeps the last silently)."""
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"duplicate key(s) {', '.join(twice)}: give each setting once")
    return dict(pairs)
