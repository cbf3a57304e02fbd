"""Tests for allocator.layers: the glue between the dbt Python models and regime/risk."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from allocator.layers import (
    REGIME_COLUMNS,
    RISK_COLUMNS,
    regime_frame,
    required_features,
    risk_frame,
    rules_from_frame,
    targets_from_records,
)
from allocator.regime import RegimeRule
from allocator.risk import DEFAULT_REGIME_TARGETS

RULES_FRAME = pd.DataFrame(
    {
        "feature": ["vol_accel", "corr_20d"],
        "level": ["ELEVATED", "CRISIS"],
        "direction": ["above", "above"],
        "enter_threshold": [1.5, 0.8],
        "exit_threshold": [1.2, 0.7],
        "rationale": ["fast vol", "everything correlated"],
    }
)


def test_rules_from_frame_ignores_extra_columns() -> None:
    rules = rules_from_frame(RULES_FRAME)
    assert rules == (
        RegimeRule("vol_accel", "ELEVATED", "above", 1.5, 1.2),
        RegimeRule("corr_20d", "CRISIS", "above", 0.8, 0.7),
    )


def test_rules_from_frame_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="exit_threshold"):
        rules_from_frame(RULES_FRAME.drop(columns="exit_threshold"))


def test_required_features_rejects_unknown_feature() -> None:
    rules = rules_from_frame(RULES_FRAME)
    assert required_features(rules, ["date", "vol_accel", "corr_20d", "x"]) == [
        "corr_20d",
        "vol_accel",
    ]
    with pytest.raises(ValueError, match="corr_20d"):
        required_features(rules, ["date", "vol_accel"])


def test_regime_frame_sorts_by_date_and_has_the_output_columns() -> None:
    rules = rules_from_frame(RULES_FRAME)
    features = pd.DataFrame(
        {
            "date": [date(2020, 1, 3), date(2020, 1, 1), date(2020, 1, 2)],
            "vol_accel": [1.0, 1.0, 1.6],
            "corr_20d": [0.9, 0.1, None],
        }
    )
    out = regime_frame(features, rules, min_days=5)
    assert tuple(out.columns) == REGIME_COLUMNS
    assert out["date"].tolist() == [date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 3)]
    assert out["regime"].tolist() == ["NORMAL", "ELEVATED", "CRISIS"]
    assert out["regime_level"].tolist() == [0, 1, 3]
    assert out["days_in_regime"].tolist() == [1, 1, 1]
    assert out["regime_changed"].tolist() == [False, True, True]
    assert out["regime_drivers"].tolist() == ["", "vol_accel>=1.5", "corr_20d>=0.8"]


def test_regime_frame_of_no_rows_is_empty_with_columns() -> None:
    rules = rules_from_frame(RULES_FRAME)
    empty = pd.DataFrame({"date": [], "vol_accel": [], "corr_20d": []})
    out = regime_frame(empty, rules, min_days=5)
    assert out.empty
    assert tuple(out.columns) == REGIME_COLUMNS


def test_targets_from_records_needs_every_level_once() -> None:
    records = [{"regime": k, "target_scalar": v} for k, v in DEFAULT_REGIME_TARGETS.items()]
    assert targets_from_records(records) == dict(DEFAULT_REGIME_TARGETS)
    with pytest.raises(ValueError, match="CRISIS"):
        targets_from_records(records[:3])
    with pytest.raises(ValueError, match="more than one"):
        targets_from_records([*records, {"regime": "NORMAL", "target_scalar": 0.9}])


def test_risk_frame_smooths_in_date_order_and_clips() -> None:
    regimes = pd.DataFrame(
        {
            "date": [date(2020, 1, 2), date(2020, 1, 1), date(2020, 1, 3)],
            "regime": ["CRISIS", "NORMAL", "CRISIS"],
        }
    )
    out = risk_frame(regimes, DEFAULT_REGIME_TARGETS, alpha=0.25, floor=0.25, cap=1.0)
    assert tuple(out.columns) == RISK_COLUMNS
    assert out["regime"].tolist() == ["NORMAL", "CRISIS", "CRISIS"]
    assert out["target_scalar"].tolist() == [1.0, 0.3, 0.3]
    # s0 = 1.0; s1 = 0.25 * 0.3 + 0.75 * 1.0 = 0.825; s2 = 0.25 * 0.3 + 0.75 * 0.825
    assert out["risk_scalar"].tolist() == pytest.approx([1.0, 0.825, 0.69375])
    clipped = risk_frame(regimes, DEFAULT_REGIME_TARGETS, alpha=1.0, floor=0.5, cap=0.9)
    assert clipped["risk_scalar"].tolist() == [0.9, 0.5, 0.5]


def test_risk_frame_of_no_rows_is_empty_with_columns() -> None:
    out = risk_frame(
        pd.DataFrame({"date": [], "regime": []}), DEFAULT_REGIME_TARGETS, 0.25, 0.25, 1.0
    )
    assert out.empty
    assert tuple(out.columns) == RISK_COLUMNS
