"""Named calibrations in the resolver: the default, the seeds' one, explicit
vars over a calibration's defaults, and unknown names refused; and the
rebalance calendar's rules."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from allocator.live import update_vars
from allocator.run_config import (
    CALIBRATIONS,
    DEFAULT_CALIBRATION,
    ConfigProblem,
    StoredRun,
    resolve,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def seeds_by_calibration() -> tuple[dict[str, list[list[Any]]], dict[str, dict[str, float]]]:
    rules: dict[str, list[list[Any]]] = {}
    for row in seed_rows("allocator_regime_rules.csv"):
        rules.setdefault(row["calibration"], []).append(
            [
                row["feature"],
                row["level"],
                row["direction"],
                float(row["enter_threshold"]),
                float(row["exit_threshold"]),
            ]
        )
    scalars: dict[str, dict[str, float]] = {}
    for row in seed_rows("allocator_regime_scalars.csv"):
        scalars.setdefault(row["calibration"], {})[row["regime"]] = float(row["target_scalar"])
    return rules, scalars


def resolved(given: dict[str, Any], rules=None, scalars=None):
    seed_rules, seed_scalars = seeds_by_calibration()
    return resolve(
        {"prices_path": "prices.parquet", **given},
        profiles=seed_rows("strategy_profiles.csv"),
        regime_rules=seed_rules if rules is None else rules,
        regime_scalars=seed_scalars if scalars is None else scalars,
        stored_runs={},
        file_exists=lambda _: True,
    )


def test_the_seeds_hold_the_original_rows_as_seeds_v1() -> None:
    """seeds_v1 is the seeds' calibration before calibrations existed, row for row."""
    rules, scalars = seeds_by_calibration()
    assert sorted(rules) == sorted(CALIBRATIONS) == ["scale_free_v1", "seeds_v1", "trailing_dd_v1"]
    assert sorted(map(tuple, rules["seeds_v1"])) == sorted(
        [
            ("corr_20d", "ELEVATED", "above", 0.52, 0.44),
            ("vol_accel", "ELEVATED", "above", 1.45, 1.15),
            ("rvol_ratio_long_run", "ELEVATED", "above", 2.0, 1.6),
            ("dd_vol_units", "ELEVATED", "below", -1.2, -0.95),
            ("corr_20d", "STRESS", "above", 0.6, 0.52),
            ("rvol_ratio_long_run", "STRESS", "above", 2.4, 1.9),
            ("dd_vol_units", "STRESS", "below", -1.6, -1.25),
            ("rvol_ratio_long_run", "CRISIS", "above", 3.0, 2.4),
            ("corr_20d", "CRISIS", "above", 0.76, 0.68),
        ]
    )
    assert scalars["seeds_v1"] == {"NORMAL": 1.0, "ELEVATED": 0.85, "STRESS": 0.55, "CRISIS": 0.3}
    assert scalars["scale_free_v1"] == {
        "NORMAL": 1.0,
        "ELEVATED": 0.7,
        "STRESS": 0.35,
        "CRISIS": 0.1,
    }
    # the scale-free set reads no absolute correlation level
    assert {rule[0] for rule in rules["scale_free_v1"]} == {
        "corr_excess",
        "vol_accel",
        "rvol_ratio_long_run",
        "dd_vol_units",
    }


def test_the_trailing_drawdown_calibration_reads_no_all_time_high_and_no_correlation() -> None:
    """trailing_dd_v1 is scale_free_v1 with its drawdown rules read from the
    trailing 504-session high and its correlation rules dropped."""
    rules, scalars = seeds_by_calibration()
    assert scalars["trailing_dd_v1"] == scalars["scale_free_v1"]
    kept = [rule for rule in rules["scale_free_v1"] if rule[0] != "corr_excess"]
    trailing = [
        ("dd_504d_vol_units" if rule[0] == "dd_vol_units" else rule[0], *rule[1:]) for rule in kept
    ]
    assert sorted(map(tuple, rules["trailing_dd_v1"])) == sorted(map(tuple, trailing))
    assert CALIBRATIONS["trailing_dd_v1"] == CALIBRATIONS["scale_free_v1"]


def test_the_default_is_the_trailing_drawdown_calibration_delivered_daily() -> None:
    run = resolved({})
    assert DEFAULT_CALIBRATION == "trailing_dd_v1"
    assert run.config["allocator_v1"]["calibration"] == "trailing_dd_v1"
    assert run.config["allocator_v1"]["cadence"] == "daily"
    assert run.config["allocator_parameters"] == {
        "correlation_exact_max_symbols": 50,
        "regime_min_days": 5,
        "risk_ewma_alpha": 0.5,
        "risk_scalar_floor": 0.10,
        "risk_scalar_cap": 1.0,
    }
    calibration = run.config["regime_calibration"]
    assert calibration["name"] == "trailing_dd_v1"
    assert calibration["target_scalars"]["CRISIS"] == 0.1
    assert ["dd_504d_vol_units", "STRESS", "below", -1.6, -1.25] in calibration["rules"]
    assert not [rule for rule in calibration["rules"] if rule[0] in ("corr_excess", "dd_vol_units")]
    assert '"name": "trailing_dd_v1"' in run.config_json


def test_scale_free_v1_stays_selectable_to_reproduce_old_runs() -> None:
    run = resolved({"allocator_v1": {"calibration": "scale_free_v1"}})
    assert run.config["allocator_v1"]["cadence"] == "daily"
    assert run.config["regime_calibration"]["name"] == "scale_free_v1"
    assert ["corr_excess", "CRISIS", "above", 0.6, 0.5] in run.config["regime_calibration"]["rules"]
    assert ["dd_vol_units", "STRESS", "below", -1.6, -1.25] in run.config["regime_calibration"][
        "rules"
    ]
    assert run.config_hash != resolved({}).config_hash


def test_seeds_v1_brings_back_the_seeds_settings() -> None:
    run = resolved({"allocator_v1": {"calibration": "seeds_v1"}})
    assert run.config["allocator_v1"]["cadence"] == "rebalance_lagged"
    parameters = run.config["allocator_parameters"]
    assert (parameters["risk_ewma_alpha"], parameters["risk_scalar_floor"]) == (0.25, 0.25)
    assert parameters["regime_min_days"] == 5
    assert run.config["regime_calibration"]["target_scalars"]["STRESS"] == 0.55
    assert ["corr_20d", "STRESS", "above", 0.6, 0.52] in run.config["regime_calibration"]["rules"]
    # the calibration is part of the configuration's identity
    assert run.config_hash != resolved({}).config_hash


def test_explicit_vars_override_the_calibrations_defaults() -> None:
    run = resolved(
        {
            "allocator_v1": {"calibration": "seeds_v1", "cadence": "daily"},
            "allocator_risk_ewma_alpha": 0.4,
            "allocator_regime_min_days": 3,
        }
    )
    assert run.config["allocator_v1"]["cadence"] == "daily"
    parameters = run.config["allocator_parameters"]
    assert parameters["risk_ewma_alpha"] == 0.4
    assert parameters["regime_min_days"] == 3
    assert parameters["risk_scalar_floor"] == 0.25  # still the calibration's
    # a floor above the calibration's cap is still refused
    with pytest.raises(ConfigProblem, match="allocator_risk_scalar_floor"):
        resolved({"allocator_risk_scalar_floor": 1.0, "allocator_risk_scalar_cap": 0.5})


def test_an_unknown_calibration_is_refused_naming_the_var() -> None:
    with pytest.raises(ConfigProblem) as problem:
        resolved({"allocator_v1": {"calibration": "seeds_v2"}})
    message = str(problem.value)
    assert message.startswith("var allocator_v1.calibration: 'seeds_v2' is not a known calibration")
    assert "trailing_dd_v1" in message and "scale_free_v1" in message and "seeds_v1" in message


def test_a_calibration_without_seed_rows_is_refused() -> None:
    rules, scalars = seeds_by_calibration()
    del rules["seeds_v1"]
    with pytest.raises(ConfigProblem, match="allocator_v1.calibration: 'seeds_v1'"):
        resolved({"allocator_v1": {"calibration": "seeds_v1"}}, rules=rules, scalars=scalars)
    # the default still resolves
    assert resolved({}, rules=rules, scalars=scalars).config["allocator_v1"]["cadence"] == "daily"


def test_a_scalar_file_is_delivered_at_the_lagged_cadence() -> None:
    """A scalar file holds only the seeds' applied scalars at rebalances: with
    no cadence given it is delivered so; another cadence given is refused."""
    file_block = {
        "enabled": True,
        "mode": "precomputed",
        "precomputed_scalar_filename": "applied.csv",
    }
    run = resolved({"allocator_v1": file_block})
    assert run.precomputed_source_kind == "file"
    assert run.config["allocator_v1"]["cadence"] == "rebalance_lagged"
    assert run.config["allocator_v1"]["calibration"] == DEFAULT_CALIBRATION
    with pytest.raises(ConfigProblem, match="allocator_v1.cadence: daily needs"):
        resolved({"allocator_v1": {**file_block, "cadence": "daily"}})


# The rebalance calendar: a backtest's default keeps its hash; a live run
# needs the calendar known at the close; a scaled run follows its baseline.


def _with_stored(given: dict[str, Any], stored: dict[str, StoredRun]):
    seed_rules, seed_scalars = seeds_by_calibration()
    return resolve(
        {"prices_path": "prices.parquet", **given},
        profiles=seed_rows("strategy_profiles.csv"),
        regime_rules=seed_rules,
        regime_scalars=seed_scalars,
        stored_runs=stored,
        file_exists=lambda _: True,
    )


def test_a_backtest_rebalances_on_the_sessions_calendar_and_keeps_its_hash() -> None:
    run = resolved({"run_id": "b"})
    assert run.values["rebalance_calendar"] == "sessions"
    assert "rebalance_calendar" not in run.config
    explicit = resolved({"run_id": "b", "rebalance_calendar": "sessions"})
    assert explicit.config_hash == run.config_hash


def test_a_live_run_rebalances_on_weekdays_by_default_and_refuses_sessions() -> None:
    live = resolved(
        {"run_id": "prod", "live": True, "allocator_v1": {"enabled": True, "mode": "compute"}}
    )
    assert live.values["rebalance_calendar"] == "weekdays"
    assert live.config["rebalance_calendar"] == "weekdays"
    with pytest.raises(ConfigProblem, match="var rebalance_calendar: 'sessions': a live run"):
        resolved({"run_id": "prod", "live": True, "rebalance_calendar": "sessions"})


def test_an_unknown_calendar_is_refused_naming_the_var() -> None:
    with pytest.raises(ConfigProblem, match="rebalance_calendar"):
        resolved({"run_id": "b", "rebalance_calendar": "fridays"})


def test_a_scaled_run_uses_its_baselines_calendar() -> None:
    baseline = resolved({"run_id": "base", "rebalance_calendar": "weekdays"})
    stored = {"base": StoredRun("base", "off", baseline.config)}
    scaled = {
        "run_id": "scaled",
        "allocator_v1": {"enabled": True, "mode": "precomputed", "precomputed_run_id": "base"},
    }
    with pytest.raises(
        ConfigProblem, match="rebalances on the weekdays calendar, this run on sessions"
    ):
        _with_stored(scaled, stored)
    same = _with_stored({**scaled, "rebalance_calendar": "weekdays"}, stored)
    assert same.values["rebalance_calendar"] == "weekdays"


def test_a_live_update_carries_the_stored_calendar() -> None:
    live_run = resolved(
        {"run_id": "prod", "live": True, "allocator_v1": {"enabled": True, "mode": "compute"}}
    )
    stored = {"prod": StoredRun("prod", "compute", live_run.config)}
    given = update_vars(
        {"run_id": "prod", "live_update": True, "end": "2022-12-28"}, stored, None, lambda _: True
    )
    assert given["rebalance_calendar"] == "weekdays"
