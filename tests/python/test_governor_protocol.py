"""The cross-universe protocol's helpers (benchmarks/governor_protocol/protocol.py):
the measures it prints and its leave-one-universe-out choice. The protocol
itself is a benchmark, not a test."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "governor_protocol"
sys.path.insert(0, str(HERE))

import protocol  # noqa: E402


def dates(n: int, start: str = "2020-01-01") -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(start) + n)


def test_longest_spell_counts_stress_and_crisis_and_keeps_the_first_of_ties() -> None:
    assert protocol.longest_spell([0, 2, 3, 0, 2, 2, 1, 3]) == (2, 1)
    assert protocol.longest_spell([0, 1, 1, 0]) == (0, -1)
    assert protocol.longest_spell([2, 2, 2]) == (3, 0)


def test_months_flagged_is_the_share_of_months_with_a_stressed_day() -> None:
    days = dates(60, "2021-01-01")  # January, February and one day of March
    levels = np.zeros(60, dtype=int)
    levels[40] = 2  # a day in February
    assert protocol.months_flagged(days, levels) == pytest.approx(1 / 3)
    assert np.isnan(protocol.months_flagged(days[:0], levels[:0]))


def test_regime_measures_of_a_path() -> None:
    levels = np.array([0, 0, 1, 2, 2, 3, 1, 0, 0, 0])
    row = protocol.regime_measures(dates(10), levels)
    assert row["share_normal"] == pytest.approx(0.5)
    assert row["share_crisis"] == pytest.approx(0.1)
    assert row["changes_per_year"] == pytest.approx(5 * 252 / 10)
    assert row["longest_spell_sessions"] == 3
    assert (row["longest_spell_start"], row["longest_spell_end"]) == ("2020-01-04", "2020-01-06")


def test_timing_skill_needs_both_measures_strictly_better() -> None:
    assert protocol.timing_skill((-0.10, 0.8), [(-0.12, 0.7), (-0.11, 0.79)]) == "good"
    assert protocol.timing_skill((-0.10, 0.8), [(-0.12, 0.7), (-0.09, 0.9)]) == "warning"
    # equal is not better: a constant that matches the governor is not beaten
    assert protocol.timing_skill((-0.10, 0.8), [(-0.10, 0.7), (-0.12, 0.8)]) == "failure"


def row(**changes: object) -> dict:
    base = {
        "share_normal": 0.7,
        "share_crisis": 0.02,
        "months_flagged": 0.2,
        "longest_spell_sessions": 100,
        "governor_max_drawdown": -0.10,
        "baseline_max_drawdown": -0.20,
        "vol_matched_max_drawdown": -0.15,
        "timing_skill": "warning",
    }
    base.update(changes)
    return protocol._judged_criteria(base)


def test_every_criterion_can_fail_on_its_own() -> None:
    assert row()["all_met"]
    misses = {
        "normal": {"share_normal": 0.39},
        "crisis": {"share_crisis": 0.11},
        "months_flagged": {"months_flagged": 0.36},
        "spell": {"longest_spell_sessions": 505},
        "maxdd_vs_baseline": {"governor_max_drawdown": -0.20, "vol_matched_max_drawdown": -0.3},
        "maxdd_vs_b": {"governor_max_drawdown": -0.15},
    }
    for name, changes in misses.items():
        judged = row(**changes)
        assert not judged["all_met"] and judged["missed"] == name, name


def test_leave_one_out_never_chooses_with_the_held_out_universe() -> None:
    good, bad = row(), row(share_normal=0.1)
    # x meets every criterion on u1 only, y on u2 only: each universe is
    # evaluated with the other's choice
    results = {"x": {"u1": good, "u2": bad}, "y": {"u1": bad, "u2": good}}
    assert protocol.leave_one_out(results, ["u1", "u2"], ["x", "y"]) == {"u1": "y", "u2": "x"}


def test_a_group_leaves_out_all_its_members() -> None:
    good, bad = row(), row(share_normal=0.1)
    universes = ["u1", "u2", "u3", "u4"]
    results = {
        "x": {"u1": good, "u2": bad, "u3": bad, "u4": bad},
        "y": {"u1": bad, "u2": bad, "u3": good, "u4": good},
    }
    # held out u2 alone, y wins on u3 and u4; with u3 in u2's group, u3 leaves too
    assert protocol.leave_one_out(results, universes, ["x", "y"])["u2"] == "y"
    grouped = protocol.leave_one_out(results, universes, ["x", "y"], group={"u2": "m", "u3": "m"})
    assert grouped["u2"] == "x"


def test_choose_honours_admissibility_and_order() -> None:
    results = {"x": {"u": row()}, "y": {"u": row()}}
    assert protocol.choose(results, ["u"], ["x", "y"]) == "x"
    assert protocol.choose(results, ["u"], ["x", "y"], lambda name, _: name != "x") == "y"
    with pytest.raises(ValueError):
        protocol.choose(results, ["u"], ["x"], lambda *_: False)


def test_the_grid_starts_with_the_project_default() -> None:
    """The protocol's "before" column is the seeds' scale_free_v1 calibration
    (the project's default until the protocol chose trailing_dd_v1)."""
    import csv

    from candidates import grid

    root = HERE.parents[1]
    with (root / "seeds" / "allocator_regime_rules.csv").open() as handle:
        seeded = sorted(
            (
                r["feature"],
                r["level"],
                r["direction"],
                float(r["enter_threshold"]),
                float(r["exit_threshold"]),
            )
            for r in csv.DictReader(handle)
            if r["calibration"] == "scale_free_v1"
        )
    with (root / "seeds" / "allocator_regime_scalars.csv").open() as handle:
        targets = tuple(
            float(r["target_scalar"])
            for r in sorted(csv.DictReader(handle), key=lambda r: int(r["regime_level"]))
            if r["calibration"] == "scale_free_v1"
        )
    first = grid()[0]
    rules = sorted(
        (r.feature, r.level, r.direction, r.enter_threshold, r.exit_threshold) for r in first.rules
    )
    assert (rules, first.targets) == (seeded, targets)


def test_the_chosen_calibration_is_a_governor_config_the_cli_accepts() -> None:
    from allocator.governor_config import read_governor_config

    config = read_governor_config(HERE / "chosen_governor.json")
    features = {rule[0] for rule in config["regime_rules"]}
    # drawdown from a trailing high, so a long recovery releases STRESS
    assert "dd_vol_units" not in features and "dd_504d_vol_units" in features


def test_the_chosen_calibration_is_the_project_default() -> None:
    """The protocol's choice is the seeds' default calibration (trailing_dd_v1)
    with its settings: the file and the seed rows cannot drift apart."""
    import csv

    from allocator.governor_config import read_governor_config
    from allocator.run_config import CALIBRATIONS, DEFAULT_CALIBRATION

    root = HERE.parents[1]
    chosen = read_governor_config(HERE / "chosen_governor.json")
    with (root / "seeds" / "allocator_regime_rules.csv").open() as handle:
        rules = [
            [
                r["feature"],
                r["level"],
                r["direction"],
                float(r["enter_threshold"]),
                float(r["exit_threshold"]),
            ]
            for r in csv.DictReader(handle)
            if r["calibration"] == DEFAULT_CALIBRATION
        ]
    with (root / "seeds" / "allocator_regime_scalars.csv").open() as handle:
        targets = {
            r["regime"]: float(r["target_scalar"])
            for r in csv.DictReader(handle)
            if r["calibration"] == DEFAULT_CALIBRATION
        }
    assert DEFAULT_CALIBRATION == "trailing_dd_v1"
    assert sorted(chosen["regime_rules"]) == sorted(rules)
    assert chosen["target_scalars"] == targets
    settings = CALIBRATIONS[DEFAULT_CALIBRATION]
    assert {key: chosen[key] for key in settings} == dict(settings)
