"""The governor config (var governor_config, `--governor-config FILE`): a whole
governor replaces the calibration's rules, map and parameters, enters the
config hash, and refuses vars it contradicts or a malformed file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.python.test_run_config import resolved

from allocator.governor_config import check_governor_config, read_governor_config
from allocator.run_config import ConfigProblem

GOVERNOR: dict[str, Any] = {
    "regime_rules": [
        ["vol_accel", "ELEVATED", "above", 1.6, 1.2],
        ["dd_vol_units", "STRESS", "below", -1.7, -1.3],
        ["rvol_ratio_long_run", "CRISIS", "above", 3.3, 2.6],
    ],
    "target_scalars": {"NORMAL": 1.0, "ELEVATED": 0.8, "STRESS": 0.45, "CRISIS": 0.2},
    "allocator_regime_min_days": 8,
    "allocator_risk_ewma_alpha": 0.5,
    "allocator_risk_scalar_floor": 0.1,
    "allocator_risk_scalar_cap": 1.0,
    "cadence": "rebalance",
    "chosen_by": {"tuning_id": "t", "config_id": 7},
}


def test_governor_config_replaces_the_calibration_and_enters_the_hash() -> None:
    run = resolved({"governor_config": GOVERNOR})
    config = run.config
    assert config["regime_calibration"]["name"] == "governor_config"
    assert sorted(map(tuple, config["regime_calibration"]["rules"])) == sorted(
        map(tuple, GOVERNOR["regime_rules"])
    )
    assert config["regime_calibration"]["target_scalars"] == GOVERNOR["target_scalars"]
    assert config["allocator_v1"]["cadence"] == "rebalance"
    assert config["allocator_parameters"]["regime_min_days"] == 8
    assert config["allocator_parameters"]["risk_scalar_floor"] == 0.1
    # the provenance is not a setting: it changes nothing
    same = resolved({"governor_config": {**GOVERNOR, "chosen_by": {"tuning_id": "other"}}})
    assert same.config_hash == run.config_hash
    other = resolved({"governor_config": {**GOVERNOR, "allocator_risk_ewma_alpha": 0.4}})
    assert other.config_hash != run.config_hash
    assert resolved({}).config_hash != run.config_hash


@pytest.mark.parametrize(
    "given",
    [
        {"allocator_risk_ewma_alpha": 0.25},
        {"allocator_v1": {"cadence": "daily"}},
        {"allocator_v1": {"calibration": "seeds_v1"}},
    ],
)
def test_a_var_the_governor_config_contradicts_is_refused(given: dict[str, Any]) -> None:
    with pytest.raises(ConfigProblem, match="governor_config"):
        resolved({"governor_config": GOVERNOR, **given})


def test_a_var_equal_to_the_governor_config_is_accepted() -> None:
    run = resolved({"governor_config": GOVERNOR, "allocator_risk_ewma_alpha": 0.5})
    assert run.config["allocator_parameters"]["risk_ewma_alpha"] == 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cadence": "weekly"}, "cadence"),
        ({"allocator_risk_scalar_floor": 0.9, "allocator_risk_scalar_cap": 0.5}, "floor"),
        ({"target_scalars": {"NORMAL": 1.0}}, "target_scalars"),
        ({"regime_rules": [["vol_accel", "ELEVATED", "above", 1.0, 1.5]]}, "exit_threshold"),
        ({"allocator_regime_min_days": 0}, "min_days"),
        ({"extra": 1}, "unknown"),
    ],
)
def test_malformed_governor_configs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_governor_config({**GOVERNOR, **change})


def test_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "governor.json"
    path.write_text(json.dumps({**GOVERNOR, "cadence": "weekly"}))
    with pytest.raises(ValueError, match="governor.json"):
        read_governor_config(path)
    path.write_text(json.dumps(GOVERNOR))
    assert read_governor_config(path)["cadence"] == "rebalance"


def test_a_rule_can_read_every_column_of_the_regime_input_and_nothing_else() -> None:
    """REGIME_FEATURES is the regime classifier's input columns (bar date)."""
    import re
    from pathlib import Path

    from allocator.governor_config import REGIME_FEATURES

    sql = (
        Path(__file__).resolve().parents[2]
        / "models/allocator/intermediate/int_allocator_regime_input.sql"
    ).read_text()
    final = sql.split("final as (")[1].split("from regime_input")[0]
    columns = re.findall(r"^\s+(\w+),$", final, flags=re.MULTILINE)
    assert sorted(REGIME_FEATURES) == sorted(c for c in columns if c != "date")
