"""Glue of the gate model (models/staging/run/stg_run__resolved.py): reads the
published registry, calls the resolver and returns one row. Kept apart from
run_config so the rules stay a pure function of plain inputs."""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd

from allocator import live
from allocator.run_config import (
    MATERIALLY_SCALED_BELOW,
    ConfigProblem,
    ResolvedRun,
    StoredRun,
    resolve,
)

#: Where the published registry lives (see macros/publish_run.sql).
REGISTRY = ("marts", "runs")
#: The gate's columns; a problem row has them all, null but `problem`.
COLUMNS = (
    "problem",
    "run_id",
    "run_kind",
    "strategy_profile",
    "start_date",
    "end_date",
    "portfolio_source",
    "allocator_enabled",
    "allocator_mode",
    "cadence",
    "regime_calibration",
    "regime_rules_json",
    "regime_targets_json",
    "precomputed_source",
    "precomputed_source_kind",
    "apply_missing_scalar_as",
    "unscaled_layers_from_run_id",
    "replaces_run_id",
    "stale_scaled_run_ids",
    "correlation_exact_max_symbols",
    "regime_min_days",
    "risk_ewma_alpha",
    "risk_scalar_floor",
    "risk_scalar_cap",
    "materially_scaled_below",
    "config_json",
    "config_hash",
    "baseline_config_json",
    "baseline_config_hash",
    "baseline_input_fingerprint",
)


def stored_runs(session: Any) -> dict[str, StoredRun]:
    """The published runs, with the scaled runs that use each baseline."""
    schema, table = REGISTRY
    exists = session.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if not exists:
        return {}
    rows = session.execute(
        f"select run_id, allocator_mode, config_json, precomputed_source, "
        f"precomputed_source_kind, config_hash, input_fingerprint "
        f"from {schema}.{table} order by run_id"
    ).fetchall()
    users: dict[str, list[str]] = {}
    for run_id, _, _, source, kind, _, _ in rows:
        if kind == "run" and source:
            users.setdefault(source, []).append(run_id)
    return {
        run_id: StoredRun(
            run_id,
            mode,
            json.loads(config),
            tuple(users.get(run_id, ())),
            config_hash,
            fingerprint,
        )
        for run_id, mode, config, _, _, config_hash, fingerprint in rows
    }


def _row(resolved: ResolvedRun) -> dict[str, Any]:
    config = resolved.config
    baseline = resolved.baseline
    parameters = config["allocator_parameters"]
    block = config["allocator_v1"]
    return {
        "problem": None,
        "run_id": resolved.run_id,
        "run_kind": resolved.kind,
        "strategy_profile": config["strategy_profile"],
        "start_date": config["start"],
        "end_date": config["end"],
        "portfolio_source": config["portfolio_source"],
        "allocator_enabled": block["enabled"],
        "allocator_mode": block["mode"],
        "cadence": block["cadence"],
        "regime_calibration": block["calibration"],
        # the rules and map the run classifies with: its calibration's seed
        # rows, or a governor config's (int_allocator_regime_rules / _targets)
        "regime_rules_json": json.dumps(config["regime_calibration"]["rules"]),
        "regime_targets_json": json.dumps(config["regime_calibration"]["target_scalars"]),
        "precomputed_source": resolved.precomputed_source,
        "precomputed_source_kind": resolved.precomputed_source_kind,
        "apply_missing_scalar_as": block["apply_missing_scalar_as"],
        "unscaled_layers_from_run_id": resolved.unscaled_layers_from_run_id,
        "replaces_run_id": resolved.replaces,
        "stale_scaled_run_ids": json.dumps(list(resolved.stale_scaled_runs)),
        "correlation_exact_max_symbols": parameters["correlation_exact_max_symbols"],
        "regime_min_days": parameters["regime_min_days"],
        "risk_ewma_alpha": parameters["risk_ewma_alpha"],
        "risk_scalar_floor": parameters["risk_scalar_floor"],
        "risk_scalar_cap": parameters["risk_scalar_cap"],
        "materially_scaled_below": MATERIALLY_SCALED_BELOW,
        "config_json": resolved.config_json,
        "config_hash": resolved.config_hash,
        "baseline_config_json": json.dumps(dict(baseline.config), sort_keys=True)
        if baseline
        else None,
        "baseline_config_hash": baseline.config_hash if baseline else None,
        "baseline_input_fingerprint": baseline.input_fingerprint if baseline else None,
    }


def config_frame(
    run_vars_json: str,
    *,
    profiles: pd.DataFrame,
    regime_rules: pd.DataFrame,
    regime_scalars: pd.DataFrame,
    session: Any,
) -> pd.DataFrame:
    """One row: the resolved run, or only `problem` when a var is wrong."""
    given = json.loads(run_vars_json)
    rules: dict[str, list[list[Any]]] = {}
    ordered = regime_rules.sort_values(["calibration", "feature", "level", "direction"])
    for r in ordered.itertuples():
        rules.setdefault(str(r.calibration), []).append(
            [
                str(r.feature),
                str(r.level),
                str(r.direction),
                float(r.enter_threshold),
                float(r.exit_threshold),
            ]
        )
    scalars: dict[str, dict[str, float]] = {}
    for r in regime_scalars.sort_values(["calibration", "regime_level"]).itertuples():
        scalars.setdefault(str(r.calibration), {})[str(r.regime)] = float(r.target_scalar)
    try:
        stored = stored_runs(session)
        # a live run's start and update (python/allocator/live.py)
        live.live_vars(given)
        if live.is_set(given.get("live_update")):
            given = live.update_vars(given, stored, session, os.path.isfile)
        resolved = resolve(
            given,
            profiles=profiles.to_dict("records"),
            regime_rules=rules,
            regime_scalars=scalars,
            stored_runs=stored,
            file_exists=os.path.isfile,
        )
    except ConfigProblem as problem:
        run_id = given.get("run_id") or "demo"
        row = dict.fromkeys(COLUMNS)
        row["problem"] = f"run '{run_id}': {problem}"
        return pd.DataFrame([row], columns=list(COLUMNS), dtype=object)
    return pd.DataFrame([_row(resolved)], columns=list(COLUMNS), dtype=object)
