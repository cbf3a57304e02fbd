"""Tests for allocator.risk: target mapping, EWMA smoothing and clipping (the rebalance
lag is SQL, checked by the dbt unit tests of allocator_risk_v1_applied)."""

from __future__ import annotations

import pytest

from allocator.risk import (
    DEFAULT_REGIME_TARGETS,
    ewma_states,
    smooth_risk_scalar,
    target_scalars,
)

# --- targets ---------------------------------------------------------------------------


def test_default_targets_values_and_immutability() -> None:
    assert dict(DEFAULT_REGIME_TARGETS) == {
        "NORMAL": 1.00,
        "ELEVATED": 0.85,
        "STRESS": 0.55,
        "CRISIS": 0.30,
    }
    with pytest.raises(TypeError):
        DEFAULT_REGIME_TARGETS["NORMAL"] = 0.5  # type: ignore[index]


def test_target_scalars_maps_each_regime() -> None:
    regimes = ["NORMAL", "ELEVATED", "STRESS", "CRISIS", "NORMAL"]
    assert target_scalars(regimes, DEFAULT_REGIME_TARGETS) == [1.0, 0.85, 0.55, 0.30, 1.0]
    assert target_scalars([], DEFAULT_REGIME_TARGETS) == []
    assert target_scalars(["A"], {"A": 1}) == [1.0]


def test_target_scalars_unknown_regime_is_named() -> None:
    with pytest.raises(ValueError, match="'PANIC'"):
        target_scalars(["NORMAL", "PANIC"], DEFAULT_REGIME_TARGETS)


def test_target_scalars_rejects_non_finite_target() -> None:
    with pytest.raises(ValueError, match="'STRESS'"):
        target_scalars(["STRESS"], {"STRESS": float("nan")})


# --- EWMA smoothing ----------------------------------------------------------------------


def test_ewma_matches_hand_computed_values() -> None:
    # s1 = .25*.3 + .75*1      = .825
    # s2 = .25*.3 + .75*.825   = .69375
    # s3 = .25*1  + .75*.69375 = .7703125
    result = smooth_risk_scalar([1.0, 0.3, 0.3, 1.0], alpha=0.25)
    assert result == pytest.approx([1.0, 0.825, 0.69375, 0.7703125], abs=1e-12)


def test_ewma_seeds_with_first_target() -> None:
    assert smooth_risk_scalar([0.55, 0.55]) == pytest.approx([0.55, 0.55])


def test_alpha_one_means_no_smoothing() -> None:
    targets = [1.0, 0.3, 0.85, 0.55]
    assert smooth_risk_scalar(targets, alpha=1.0) == pytest.approx(targets)


def test_empty_input_gives_empty_output() -> None:
    assert smooth_risk_scalar([]) == []


def test_floor_binds_and_recursion_runs_on_unclipped_value() -> None:
    # Unclipped EWMA: 0.1, 0.1, 0.55 -> output clipped to 0.25, 0.25, 0.55.
    # (A recursion on the clipped value would give 0.625 on the last row.)
    result = smooth_risk_scalar([0.1, 0.1, 1.0], alpha=0.5, floor=0.25, cap=1.0)
    assert result == pytest.approx([0.25, 0.25, 0.55])


def test_cap_binds_and_recursion_runs_on_unclipped_value() -> None:
    # Unclipped EWMA: 1.5, 1.5, 1.0 -> all clipped/at 1.0.
    # (A recursion on the clipped value would give 0.75 on the last row.)
    result = smooth_risk_scalar([1.5, 1.5, 0.5], alpha=0.5, floor=0.25, cap=1.0)
    assert result == pytest.approx([1.0, 1.0, 1.0])


def test_custom_cap_below_normal_target_binds() -> None:
    result = smooth_risk_scalar([1.0, 0.3], alpha=0.25, floor=0.25, cap=0.9)
    assert result == pytest.approx([0.9, 0.825])


def test_output_stays_in_bounds_for_default_targets() -> None:
    path = ["NORMAL"] * 3 + ["CRISIS"] * 30 + ["ELEVATED"] * 5 + ["NORMAL"] * 40
    scalars = smooth_risk_scalar(target_scalars(path, DEFAULT_REGIME_TARGETS))
    assert all(0.25 <= s <= 1.0 for s in scalars)
    assert min(scalars) == pytest.approx(0.30, abs=1e-3)  # converges to the CRISIS target
    assert scalars[-1] == pytest.approx(1.0, abs=1e-4)  # and recovers gradually


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0.0},
        {"alpha": -0.1},
        {"alpha": 1.01},
        {"alpha": float("nan")},
        {"floor": 0.0},
        {"floor": -0.5},
        {"floor": 0.8, "cap": 0.5},
        {"cap": float("inf")},
    ],
)
def test_invalid_smoothing_parameters_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        smooth_risk_scalar([1.0], **kwargs)


def test_floor_equal_to_cap_is_allowed() -> None:
    assert smooth_risk_scalar([0.3, 1.0], floor=0.5, cap=0.5) == [0.5, 0.5]


def test_non_finite_target_rejected_with_position() -> None:
    with pytest.raises(ValueError, match="#1"):
        smooth_risk_scalar([1.0, float("nan")])


def test_split_ewma_from_the_stored_state_equals_the_whole_run() -> None:
    """A live run smooths each day from the stored last state: exactly the whole run."""
    targets = [1.0, 0.7, 0.35, 0.35, 0.1, 0.7, 1.0, 1.0, 0.35, 1.0]
    whole = ewma_states(targets, alpha=0.5)
    for cut in range(1, len(targets)):
        head = ewma_states(targets[:cut], alpha=0.5)
        tail = ewma_states(targets[cut:], alpha=0.5, initial=head[-1])
        assert head + tail == whole  # bit for bit, not approximately
    state = None
    stepwise: list[float] = []
    for target in targets:
        state = ewma_states([target], alpha=0.5, initial=state)[0]
        stepwise.append(state)
    assert stepwise == whole
    assert smooth_risk_scalar(targets[4:], 0.5, 0.1, 1.0, initial=whole[3]) == [
        min(max(s, 0.1), 1.0) for s in whole[4:]
    ]


def test_ewma_initial_state_is_validated() -> None:
    with pytest.raises(ValueError, match="initial"):
        ewma_states([1.0], initial=float("nan"))
