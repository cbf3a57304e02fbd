"""Glue between the dbt Python models and the pure regime/risk functions.

The dbt Python models in ``models/allocator`` only read tables and write the
frames these functions return; everything here is a pure function of plain
inputs (no database, no clock) so it is tested without dbt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from allocator.regime import (
    LEVELS,
    RegimeRule,
    RegimeStep,
    classify_regime_frame,
    rules_from_records,
)
from allocator.risk import clip_scalars, ewma_states, target_scalars

__all__ = [
    "REGIME_COLUMNS",
    "RISK_COLUMNS",
    "regime_frame",
    "required_features",
    "risk_frame",
    "rules_from_frame",
    "sleeve_risk_frame",
    "sleeve_targets_from_records",
    "targets_from_records",
]

#: Output columns of ``allocator_regime_v1`` (run_id is added by the model).
REGIME_COLUMNS: tuple[str, ...] = (
    "date",
    "regime",
    "regime_level",
    "days_in_regime",
    "regime_changed",
    "regime_drivers",
    "regime_state",
)

#: Output columns of ``allocator_risk_v1`` (run_id is added by the model).
RISK_COLUMNS: tuple[str, ...] = ("date", "regime", "target_scalar", "risk_scalar", "ewma_state")
#: Output columns of ``allocator_risk_v1_sleeve_scalars`` (run_id added by the model).
SLEEVE_RISK_COLUMNS: tuple[str, ...] = ("date", "sleeve", *RISK_COLUMNS[1:])

_RULE_COLUMNS: tuple[str, ...] = (
    "feature",
    "level",
    "direction",
    "enter_threshold",
    "exit_threshold",
)


def rules_from_frame(frame: pd.DataFrame) -> tuple[RegimeRule, ...]:
    """Validated rules from the rules seed (extra columns such as rationale ignored)."""
    missing = [name for name in _RULE_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"regime rules table is missing column(s) {missing}")
    records = frame[list(_RULE_COLUMNS)].to_dict("records")
    return rules_from_records(records)


def required_features(rules: Iterable[RegimeRule], available: Iterable[str]) -> list[str]:
    """The input columns the rules read, sorted; a rule on an unknown column is an error.

    A typo in the rules seed would otherwise make its rule silently inert.
    """
    columns = set(available)
    wanted = sorted({rule.feature for rule in rules})
    unknown = [name for name in wanted if name not in columns]
    if unknown:
        raise ValueError(
            f"regime rules reference unknown feature(s) {unknown}; "
            f"the regime input has {sorted(columns)}"
        )
    return wanted


def regime_frame(
    features: pd.DataFrame,
    rules: Sequence[RegimeRule],
    min_days: int,
    initial: RegimeStep | None = None,
) -> pd.DataFrame:
    """Classify a frame with a ``date`` column and one column per rule feature.

    Rows are sorted by date first; the result has :data:`REGIME_COLUMNS`.
    An empty input gives an empty frame with those columns. ``initial``: the
    stored step before the first row (a live run's update).
    """
    ordered = features.sort_values("date").set_index("date")
    steps = classify_regime_frame(ordered, rules, min_days, initial)
    out = steps.reset_index()
    out["regime_level"] = out["regime_level"].astype("int64")
    out["days_in_regime"] = out["days_in_regime"].astype("int64")
    out["regime_changed"] = out["regime_changed"].astype("bool")
    out["regime_drivers"] = out["regime_drivers"].astype("object")
    out["regime"] = out["regime"].astype("object")
    out["regime_state"] = out["regime_state"].astype("object")
    return out[list(REGIME_COLUMNS)]


def targets_from_records(records: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """Regime -> target scalar from the scalars seed; every level must be mapped once."""
    targets: dict[str, float] = {}
    for record in records:
        regime = str(record["regime"])
        if regime in targets:
            raise ValueError(f"regime {regime!r} has more than one target scalar")
        targets[regime] = float(record["target_scalar"])  # type: ignore[arg-type]
    missing = [level for level in LEVELS if level not in targets]
    if missing:
        raise ValueError(f"no target scalar for regime(s) {missing}")
    return targets


def risk_frame(
    regimes: pd.DataFrame,
    targets: Mapping[str, float],
    alpha: float,
    floor: float,
    cap: float,
    initial: float | None = None,
) -> pd.DataFrame:
    """Target and smoothed, clipped risk scalar per date from ``(date, regime)`` rows.

    The EWMA runs over the rows in date order, so it is seeded by the first
    classified date (the first ready date of the run), or continues from
    ``initial``, a stored run's last ``ewma_state`` (the unclipped EWMA).
    """
    ordered = regimes.sort_values("date").reset_index(drop=True)
    labels = ordered["regime"].tolist()
    target = target_scalars(labels, targets)
    states = ewma_states(target, alpha=alpha, initial=initial)
    smoothed = clip_scalars(states, floor, cap)
    return pd.DataFrame(
        {
            "date": ordered["date"],
            "regime": pd.Series(labels, dtype="object"),
            "target_scalar": pd.Series(target, dtype="float64"),
            "risk_scalar": pd.Series(smoothed, dtype="float64"),
            "ewma_state": pd.Series(states, dtype="float64"),
        },
        columns=list(RISK_COLUMNS),
    )


def sleeve_targets_from_records(
    records: Iterable[Mapping[str, object]],
) -> dict[str, dict[str, float]]:
    """Sleeve -> (regime -> target scalar) from ``(sleeve, regime, target_scalar)``
    rows; each sleeve must map every level once (:func:`targets_from_records`)."""
    by_sleeve: dict[str, list[Mapping[str, object]]] = {}
    for record in records:
        by_sleeve.setdefault(str(record["sleeve"]), []).append(record)
    targets: dict[str, dict[str, float]] = {}
    for sleeve, rows in sorted(by_sleeve.items()):
        try:
            targets[sleeve] = targets_from_records(rows)
        except ValueError as exc:
            raise ValueError(f"sleeve {sleeve!r}: {exc}") from exc
    return targets


def sleeve_risk_frame(
    regimes: pd.DataFrame,
    sleeve_targets: Mapping[str, Mapping[str, float]],
    alpha: float,
    floor: float,
    cap: float,
) -> pd.DataFrame:
    """One risk series per sleeve (Stage 6): the book's regime path mapped
    through each sleeve's own targets, smoothed and clipped by the same
    recursion and parameters as the book scalar (:func:`risk_frame`).

    Rows in sleeve then date order, with :data:`SLEEVE_RISK_COLUMNS`; no
    sleeve (the option off) gives an empty frame with those columns.
    """
    frames = []
    for sleeve in sorted(sleeve_targets):
        frame = risk_frame(regimes, sleeve_targets[sleeve], alpha=alpha, floor=floor, cap=cap)
        frame.insert(1, "sleeve", pd.Series([sleeve] * len(frame), dtype="object"))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            {column: pd.Series(dtype="object") for column in SLEEVE_RISK_COLUMNS},
            columns=list(SLEEVE_RISK_COLUMNS),
        )
    return pd.concat(frames, ignore_index=True)[list(SLEEVE_RISK_COLUMNS)]
