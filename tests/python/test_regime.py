"""Tests for allocator.regime: thresholds, hysteresis, anti-thrash, missing data."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pandas as pd
import pytest

from allocator.regime import (
    LEVELS,
    RegimeRule,
    RegimeStep,
    classify_regime_frame,
    classify_regimes,
    rules_from_records,
    transition_counts,
)

VOL_ELEVATED = RegimeRule("vol", "ELEVATED", "above", 1.5, 1.2)
VOL_STRESS = RegimeRule("vol", "STRESS", "above", 2.0, 1.8)
DD_STRESS = RegimeRule("dd", "STRESS", "below", -0.10, -0.08)
DD_CRISIS = RegimeRule("dd", "CRISIS", "below", -0.20, -0.15)
RULES = (VOL_ELEVATED, VOL_STRESS, DD_STRESS, DD_CRISIS)

CALM: dict[str, float] = {"vol": 1.0, "dd": 0.0}


def regimes(
    rows: Sequence[Mapping[str, float | None]],
    rules: Sequence[RegimeRule] = RULES,
    min_days: int = 5,
) -> list[str]:
    return [step.regime for step in classify_regimes(rows, rules, min_days)]


# --- thresholds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"vol": 1.5}, "ELEVATED"),  # exactly at enter: crosses
        ({"vol": math.nextafter(1.5, 0.0)}, "NORMAL"),  # a hair below: does not
        ({"vol": 2.0}, "STRESS"),
        ({"dd": -0.20}, "CRISIS"),  # 'below' rule exactly at enter
        ({"dd": math.nextafter(-0.20, 0.0)}, "STRESS"),  # just above CRISIS enter
    ],
)
def test_value_exactly_at_enter_threshold_crosses(row: dict[str, float], expected: str) -> None:
    assert regimes([row]) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.2, "ELEVATED"),  # exactly at exit: still holds
        (math.nextafter(1.2, 0.0), "NORMAL"),  # just below exit: released
    ],
)
def test_value_exactly_at_exit_threshold_stays(value: float, expected: str) -> None:
    # min_days=1 so only the exit threshold decides whether ELEVATED is kept.
    result = regimes([{"vol": 1.5}, {"vol": value}], rules=[VOL_ELEVATED], min_days=1)
    assert result == ["ELEVATED", expected]


def test_hysteresis_band_keeps_regime_without_reentering() -> None:
    # Between exit (1.2) and enter (1.5) the level is kept but never entered.
    assert regimes([{"vol": 1.3}] * 3, rules=[VOL_ELEVATED], min_days=1) == ["NORMAL"] * 3
    kept = regimes([{"vol": 1.6}] + [{"vol": 1.3}] * 10, rules=[VOL_ELEVATED], min_days=1)
    assert kept == ["ELEVATED"] * 11


# --- flapping --------------------------------------------------------------------------


def test_flapping_around_enter_threshold_changes_once_thanks_to_hysteresis() -> None:
    # Hovering around the enter threshold (1.5), never below the exit threshold (1.2).
    values = [1.0] + [1.55, 1.45, 1.6, 1.3, 1.52, 1.49] * 10
    rows = [{"vol": v} for v in values]
    sticky = regimes(rows, rules=[VOL_ELEVATED], min_days=5)
    assert sticky == ["NORMAL"] + ["ELEVATED"] * (len(values) - 1)
    assert transition_counts(sticky) == {("NORMAL", "ELEVATED"): 1}
    # Without hysteresis (exit == enter) and without anti-thrash it flips every row.
    naive = RegimeRule("vol", "ELEVATED", "above", 1.5, 1.5)
    thrash = regimes(rows, rules=[naive], min_days=1)
    assert sum(transition_counts(thrash).values()) == len(values) - 1


def test_flapping_across_whole_band_is_throttled_by_min_days() -> None:
    values = [1.6, 1.0] * 20  # crosses enter and exit every day
    rows = [{"vol": v} for v in values]
    naive = RegimeRule("vol", "ELEVATED", "above", 1.5, 1.5)
    assert sum(transition_counts(regimes(rows, [naive], min_days=1)).values()) == 39

    steps = classify_regimes(rows, [VOL_ELEVATED], min_days=5)
    labels = [s.regime for s in steps]
    # Period of 6: five ELEVATED rows (min_days), then NORMAL for one row, re-enter.
    assert labels[:7] == ["ELEVATED"] * 5 + ["NORMAL", "ELEVATED"]
    assert transition_counts(labels) == {("ELEVATED", "NORMAL"): 6, ("NORMAL", "ELEVATED"): 6}
    # Every completed ELEVATED spell lasts at least min_days rows.
    completed = [
        prev.days_in_regime
        for prev, cur in zip(steps, steps[1:], strict=False)
        if prev.regime == "ELEVATED" and cur.regime == "NORMAL"
    ]
    assert completed and min(completed) >= 5


# --- escalation ------------------------------------------------------------------------


def test_jump_straight_from_normal_to_crisis_in_one_step() -> None:
    steps = classify_regimes([CALM, {"vol": 1.0, "dd": -0.25}], RULES)
    assert [s.regime for s in steps] == ["NORMAL", "CRISIS"]
    crisis = steps[1]
    assert crisis.regime_level == 3
    assert crisis.days_in_regime == 1
    assert crisis.changed is True
    assert crisis.entered_by == ("dd<=-0.2",)
    assert transition_counts([s.regime for s in steps]) == {("NORMAL", "CRISIS"): 1}


def test_escalation_is_immediate_and_resets_the_day_counter() -> None:
    rows = [{"vol": 1.6}, {"vol": 1.6}, {"vol": 2.1}, {"vol": 2.1}]
    steps = classify_regimes(rows, RULES, min_days=5)
    assert [s.regime for s in steps] == ["ELEVATED", "ELEVATED", "STRESS", "STRESS"]
    assert [s.days_in_regime for s in steps] == [1, 2, 1, 2]
    assert [s.changed for s in steps] == [False, False, True, False]


def test_first_observation_starts_in_highest_entered_level() -> None:
    first = classify_regimes([{"vol": 2.5, "dd": -0.12}], RULES)[0]
    assert first == RegimeStep("STRESS", 2, 1, ("vol>=2.0", "dd<=-0.1"), changed=False)
    assert classify_regimes([CALM], RULES)[0] == RegimeStep("NORMAL", 0, 1, (), False)


def test_no_rows_gives_no_steps() -> None:
    assert classify_regimes([], RULES) == []


# --- de-escalation ---------------------------------------------------------------------


def test_min_days_blocks_deescalation_then_drops_one_level_only() -> None:
    rows = [{"vol": 1.0, "dd": -0.30}] + [CALM] * 6
    steps = classify_regimes(rows, RULES, min_days=5)
    # Calm from row 1 on, but CRISIS is shown for min_days rows first ...
    assert [s.regime for s in steps[:5]] == ["CRISIS"] * 5
    assert [s.days_in_regime for s in steps[:5]] == [1, 2, 3, 4, 5]
    # ... then drops exactly one level, even though every feature is calm.
    assert steps[5].regime == "STRESS"
    assert steps[5].days_in_regime == 1
    assert steps[5].changed is True
    assert steps[6].regime == "STRESS"


def test_deescalation_walks_down_one_level_per_min_days() -> None:
    rows = [{"vol": 1.0, "dd": -0.30}] + [CALM] * 19
    steps = classify_regimes(rows, RULES, min_days=5)
    labels = [s.regime for s in steps]
    assert labels == ["CRISIS"] * 5 + ["STRESS"] * 5 + ["ELEVATED"] * 5 + ["NORMAL"] * 5
    assert [s.days_in_regime for s in steps] == list(range(1, 6)) * 3 + list(range(1, 6))
    assert transition_counts(labels) == {
        ("CRISIS", "STRESS"): 1,
        ("STRESS", "ELEVATED"): 1,
        ("ELEVATED", "NORMAL"): 1,
    }


def test_deescalation_stops_where_the_lower_level_still_holds() -> None:
    # dd recovers out of CRISIS but stays inside the STRESS exit band.
    rows = [{"dd": -0.25}] + [{"dd": -0.09}] * 12
    steps = classify_regimes(rows, RULES, min_days=3)
    assert [s.regime for s in steps] == ["CRISIS"] * 3 + ["STRESS"] * 10
    assert steps[3].entered_by == ("dd<=-0.08",)  # the rule that keeps STRESS


def test_stay_condition_blocks_deescalation_after_min_days() -> None:
    rows = [{"vol": 1.6}] + [{"vol": 1.25}] * 20
    assert regimes(rows, rules=[VOL_ELEVATED], min_days=2) == ["ELEVATED"] * 21


def test_reescalation_during_recovery_restarts_the_count() -> None:
    rows = [{"dd": -0.25}] + [CALM] * 6 + [{"dd": -0.25}] + [CALM] * 5
    steps = classify_regimes(rows, RULES, min_days=5)
    labels = [s.regime for s in steps]
    assert labels[:7] == ["CRISIS"] * 5 + ["STRESS"] * 2
    assert labels[7:] == ["CRISIS"] * 5 + ["STRESS"]
    assert steps[7].days_in_regime == 1


def test_min_days_one_allows_a_drop_every_row() -> None:
    rows = [{"dd": -0.25}, CALM, CALM, CALM, CALM]
    assert regimes(rows, min_days=1) == ["CRISIS", "STRESS", "ELEVATED", "NORMAL", "NORMAL"]


@pytest.mark.parametrize("min_days", [0, -1, 2.5, True, "5"])
def test_invalid_min_days_rejected(min_days: object) -> None:
    with pytest.raises(ValueError, match="min_days"):
        classify_regimes([CALM], RULES, min_days=min_days)  # type: ignore[arg-type]


# --- missing / NaN features --------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        {"vol": float("nan"), "dd": float("nan")},
        {"vol": None, "dd": None},
        {},  # features absent altogether
        {"other_feature": 99.0},
    ],
)
def test_missing_features_never_trigger(row: dict[str, float | None]) -> None:
    assert regimes([row] * 3) == ["NORMAL"] * 3


def test_nan_does_not_hold_a_regime() -> None:
    rows = [{"vol": 1.6}] + [{"vol": float("nan")}] * 3
    assert regimes(rows, rules=[VOL_ELEVATED], min_days=2) == [
        "ELEVATED",
        "ELEVATED",
        "NORMAL",
        "NORMAL",
    ]


def test_rules_on_absent_features_are_inert_but_others_still_work() -> None:
    optional = RegimeRule("trend_breadth_20d", "CRISIS", "below", 0.1, 0.2)
    rows = [{"vol": 1.6}]  # trend_breadth_20d not computed for this strategy
    assert regimes(rows, rules=[*RULES, optional]) == ["ELEVATED"]


def test_non_numeric_feature_value_is_an_error_not_missing() -> None:
    with pytest.raises(TypeError, match="vol"):
        classify_regimes([{"vol": "1.6"}], RULES)  # type: ignore[list-item]


# --- 'below' direction ----------------------------------------------------------------------


def test_below_rule_enters_at_or_under_and_holds_until_above_exit() -> None:
    rule = RegimeRule("dd", "STRESS", "below", -0.10, -0.08)
    assert rule.enters(-0.10) and rule.enters(-0.5)
    assert not rule.enters(-0.09)
    assert rule.holds(-0.08) and rule.holds(-0.09)
    assert not rule.holds(-0.07)
    assert not rule.enters(None) and not rule.holds(None)
    rows = [{"dd": -0.12}, {"dd": -0.085}, {"dd": -0.07}, {"dd": -0.07}]
    # Released at -0.07, then one level per row (min_days=1): STRESS -> ELEVATED -> NORMAL.
    assert regimes(rows, rules=[rule], min_days=1) == ["STRESS", "STRESS", "ELEVATED", "NORMAL"]


# --- rule validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "NORMAL"}, "level must be one of"),
        ({"level": "crisis"}, "level must be one of"),
        ({"direction": "up"}, "direction must be"),
        ({"enter_threshold": 1.5, "exit_threshold": 1.6}, "exit_threshold .* must be <="),
        (
            {"direction": "below", "enter_threshold": -0.1, "exit_threshold": -0.2},
            "exit_threshold .* must be >=",
        ),
        ({"enter_threshold": float("nan")}, "enter_threshold must be finite"),
        ({"exit_threshold": float("inf")}, "exit_threshold must be finite"),
        ({"enter_threshold": "1.5"}, "enter_threshold must be a number"),
        ({"enter_threshold": True}, "enter_threshold must be a number"),
        ({"feature": ""}, "feature must be a non-empty string"),
    ],
)
def test_invalid_rules_rejected_with_rule_name(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "feature": "vol",
        "level": "ELEVATED",
        "direction": "above",
        "enter_threshold": 1.5,
        "exit_threshold": 1.2,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        RegimeRule(**fields)  # type: ignore[arg-type]
    assert f"feature={fields['feature']!r}" in str(info.value)
    assert f"level={fields['level']!r}" in str(info.value)


def test_equal_enter_and_exit_is_allowed_and_rule_is_frozen() -> None:
    rule = RegimeRule("vol", "ELEVATED", "above", 1, 1)
    assert rule.enter_threshold == 1.0 and isinstance(rule.enter_threshold, float)
    with pytest.raises(AttributeError):
        rule.level = "CRISIS"  # type: ignore[misc]


def test_rules_from_records_converts_and_validates() -> None:
    records = [
        {
            "feature": "vol",
            "level": "ELEVATED",
            "direction": "above",
            "enter_threshold": "1.5",  # CSV seeds deliver strings
            "exit_threshold": Decimal("1.2"),  # DuckDB DECIMAL columns
        },
        {
            "feature": "dd",
            "level": "CRISIS",
            "direction": "below",
            "enter_threshold": -0.2,
            "exit_threshold": -0.15,
        },
    ]
    assert rules_from_records(records) == (VOL_ELEVATED, DD_CRISIS)
    assert rules_from_records([]) == ()


def test_rules_from_records_rejects_bad_records() -> None:
    with pytest.raises(ValueError, match="exit_threshold"):
        rules_from_records([{"feature": "vol", "level": "ELEVATED", "direction": "above"}])
    bad_number = {
        "feature": "vol",
        "level": "STRESS",
        "direction": "above",
        "enter_threshold": "high",
        "exit_threshold": 1.0,
    }
    with pytest.raises(ValueError, match=r"feature='vol', level='STRESS'"):
        rules_from_records([bad_number])
    incoherent = {**bad_number, "enter_threshold": 1.0, "exit_threshold": 2.0}
    with pytest.raises(ValueError, match="exit_threshold"):
        rules_from_records([incoherent])


def test_non_rule_objects_rejected() -> None:
    with pytest.raises(TypeError):
        classify_regimes([CALM], [{"feature": "vol"}])  # type: ignore[list-item]


# --- drivers, purity ---------------------------------------------------------------------------


def test_entered_by_reports_enter_then_exit_conditions() -> None:
    rows = [{"vol": 1.6}, {"vol": 1.3}, {"vol": 1.0}]
    steps = classify_regimes(rows, [VOL_ELEVATED], min_days=5)
    assert steps[0].entered_by == ("vol>=1.5",)  # entered via the enter threshold
    assert steps[1].entered_by == ("vol>=1.2",)  # kept via the exit threshold
    assert steps[2].entered_by == ()  # kept only by min_days


def test_classification_is_deterministic_and_does_not_mutate_input() -> None:
    rows = [{"vol": 1.6, "dd": -0.3}, dict(CALM), {"vol": float("nan")}]
    snapshot = [dict(r) for r in rows]
    first = classify_regimes(rows, RULES)
    assert classify_regimes(rows, RULES) == first
    assert rows == snapshot


def test_levels_constant() -> None:
    assert LEVELS == ("NORMAL", "ELEVATED", "STRESS", "CRISIS")
    assert [RegimeRule("x", lvl, "above", 1, 0).severity for lvl in LEVELS[1:]] == [1, 2, 3]


# --- transition_counts -------------------------------------------------------------------------


def test_transition_counts_counts_changes_only() -> None:
    labels = ["NORMAL", "NORMAL", "ELEVATED", "ELEVATED", "NORMAL", "ELEVATED", "CRISIS"]
    assert transition_counts(labels) == {
        ("NORMAL", "ELEVATED"): 2,
        ("ELEVATED", "NORMAL"): 1,
        ("ELEVATED", "CRISIS"): 1,
    }
    assert transition_counts([]) == {}
    assert transition_counts(["NORMAL"] * 4) == {}


# --- pandas wrapper -----------------------------------------------------------------------------


def test_classify_regime_frame_matches_core_and_keeps_index() -> None:
    index = pd.date_range("2024-01-01", periods=8, freq="B", name="date")
    frame = pd.DataFrame(
        {
            "vol": pd.array([1.0, 1.6, 1.3, None, None, None, None, None], dtype="Float64"),
            "dd": [0.0, 0.0, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0],
            "unused": ["a"] * 8,  # non-feature columns are ignored
        },
        index=index,
    )
    out = classify_regime_frame(frame, RULES, min_days=2)
    assert out.index.equals(index)
    assert list(out.columns) == [
        "regime",
        "regime_level",
        "days_in_regime",
        "regime_changed",
        "regime_drivers",
        "regime_state",
    ]
    assert out["regime"].tolist() == [
        "NORMAL",
        "ELEVATED",
        "CRISIS",
        "CRISIS",
        "STRESS",
        "STRESS",
        "ELEVATED",
        "ELEVATED",
    ]
    assert out["regime_changed"].tolist() == [False, True, True, False, True, False, True, False]
    assert out["regime_drivers"].iloc[1] == "vol>=1.5"
    assert out["regime_drivers"].iloc[0] == ""
    core = classify_regimes(
        [{"vol": 1.0, "dd": 0.0}, {"vol": 1.6, "dd": 0.0}, {"vol": 1.3, "dd": -0.25}],
        RULES,
        min_days=2,
    )
    assert out["days_in_regime"].tolist()[:3] == [s.days_in_regime for s in core]


def test_classify_regime_frame_joins_multiple_drivers_and_handles_missing_columns() -> None:
    frame = pd.DataFrame({"vol": [2.5], "dd": [-0.12]})
    out = classify_regime_frame(frame, RULES)
    assert out["regime_drivers"].iloc[0] == "vol>=2.0; dd<=-0.1"
    only_vol = classify_regime_frame(pd.DataFrame({"vol": [1.0, 1.7]}), RULES)
    assert only_vol["regime"].tolist() == ["NORMAL", "ELEVATED"]


def test_classify_regime_frame_rejects_unsorted_index() -> None:
    frame = pd.DataFrame({"vol": [1.0, 2.0]}, index=pd.to_datetime(["2024-01-03", "2024-01-02"]))
    with pytest.raises(ValueError, match="sorted"):
        classify_regime_frame(frame, RULES)


# --- continuing from a stored state (live runs) -----------------------------------------


def _path() -> list[dict[str, float]]:
    """Calm, a spike into CRISIS, a slow walk down with min_days pending."""
    vols = [1.0, 1.6, 1.3, 2.1, 1.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.6, 1.0, 1.0]
    dds = [0.0, -0.05, -0.12, -0.22, -0.16, -0.1, -0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0]
    return [{"vol": v, "dd": d} for v, d in zip(vols, dds, strict=True)]


def test_split_run_from_the_stored_state_equals_the_whole_run() -> None:
    """Every cut, including inside a pending de-escalation (days < min_days),
    gives the whole run's steps when the second part starts from the first
    part's last step, restored from its stored JSON state."""
    from allocator.regime import regime_step_from_state, regime_step_state

    rows = _path()
    whole = classify_regimes(rows, RULES, 3)
    assert len({s.regime for s in whole}) >= 3
    for cut in range(1, len(rows)):
        head = classify_regimes(rows[:cut], RULES, 3)
        stored = regime_step_state(head[-1])
        tail = classify_regimes(rows[cut:], RULES, 3, initial=regime_step_from_state(stored))
        assert head + tail == whole


def test_one_row_at_a_time_equals_the_whole_run() -> None:
    from allocator.regime import regime_step_from_state, regime_step_state

    rows = _path()
    state = None
    steps: list[RegimeStep] = []
    for row in rows:
        step = classify_regimes([row], RULES, 3, initial=state)[0]
        steps.append(step)
        state = regime_step_from_state(regime_step_state(step))
    assert steps == classify_regimes(rows, RULES, 3)


def test_stored_state_that_does_not_match_the_step_is_refused() -> None:
    from allocator.regime import regime_step_from_state

    with pytest.raises(ValueError, match="missing"):
        regime_step_from_state('{"regime": "NORMAL"}')
    with pytest.raises(TypeError, match="initial"):
        classify_regimes([CALM], RULES, 3, initial={"regime": "NORMAL"})  # type: ignore[arg-type]
