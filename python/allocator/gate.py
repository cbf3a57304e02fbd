"""Glue of the gate model (models/run/stg_run__resolved.py): reads the
published registry, calls the resolver and returns one row. Kept apart from
run_config so the rules stay a pure function of plain inputs."""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd

from allocator.run_config import (
    MATERIALLY_SCALED_BELOW,
    ConfigProblem,
    ResolvedRun,
    StoredRun,
    resolve,
    sql_literal,
)
from allocator.run_parameters import contract_columns

#: Where the published registry lives (see macros/publish_run.sql).
REGISTRY = ("marts", "runs")
#: The gate's columns, as its contract (models/run/_run__models.yml) lists
#: them, without the two dbt fills in (invocation id, start time); a problem
#: row has them all, null but `problem`.
COLUMNS = (
    "problem",
    *(column.name for column in contract_columns() if column.meta.get("from") != "dbt"),
)
#: The relation each input file is bound to (the sources of
#: models/staging/_staging__sources.yml) and the columns of its empty stand-in.
INPUT_RELATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "prices_path": ("input__prices", ("date", "symbol", "close")),
    "benchmark_path": ("input__benchmark", ("date", "symbol", "close")),
    "weights_path": ("input__weights", ("date", "symbol", "weight", "sleeve")),
    "portfolio_returns_path": ("input__portfolio_returns", ("date", "portfolio_return")),
}


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
    block = config["allocator_v1"]
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    # the profile's parameters, then every run parameter as resolved
    for column in contract_columns():
        if column.meta.get("profile"):
            row[column.name] = config["profile"][column.name]
    row.update(resolved.values)
    row.update(
        {
            "run_kind": resolved.kind,
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
            "precomputed_run_id": block["precomputed_run_id"],
            "precomputed_scalar_filename": block["precomputed_scalar_filename"],
            "unscaled_layers_from_run_id": resolved.unscaled_layers_from_run_id,
            "replaces_run_id": resolved.replaces,
            "stale_scaled_run_ids": json.dumps(list(resolved.stale_scaled_runs)),
            **config["allocator_parameters"],
            **config["inputs"],
            "materially_scaled_below": MATERIALLY_SCALED_BELOW,
            "config_json": resolved.config_json,
            "config_hash": resolved.config_hash,
            "baseline_config_json": json.dumps(dict(baseline.config), sort_keys=True)
            if baseline
            else None,
            "baseline_config_hash": baseline.config_hash if baseline else None,
            "baseline_input_fingerprint": baseline.input_fingerprint if baseline else None,
        }
    )
    return {name: row[name] for name in COLUMNS}


def input_reader(path: str, columns: tuple[str, ...]) -> str:
    """The query that reads one checked input file (an empty typed relation when off).

    CSV is read as text so staging, not the reader, decides what is
    malformed and can name the offending row.
    """
    if not path:
        return (
            "select " + ", ".join(f"cast(null as varchar) as {c}" for c in columns) + " where false"
        )
    if path.lower().endswith(".parquet"):
        return f"select * from read_parquet({sql_literal(path)})"
    return f"select * from read_csv({sql_literal(path)}, all_varchar = true, header = true)"


def bind_inputs(session: Any, schema: str, frame: pd.DataFrame) -> None:
    """Point the sources' relations at the input files the gate checked.

    Called by the gate model after resolving: with a problem nothing is
    bound (the build stops at stg_run_config, and every model that reads an
    input depends on it), so no reader ever sees a path the gate refused.
    Each path is a SQL literal built by sql_literal, never a format string.
    """
    row = frame.iloc[0]
    if row["problem"] is not None:
        return
    for var, (relation, columns) in INPUT_RELATIONS.items():
        reader = input_reader(str(row[var] or ""), columns)
        session.execute(f'create or replace view "{schema}"."{relation}" as {reader}')


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
        resolved = resolve(
            given,
            profiles=profiles.to_dict("records"),
            regime_rules=rules,
            regime_scalars=scalars,
            stored_runs=stored_runs(session),
            file_exists=os.path.isfile,
        )
    except ConfigProblem as problem:
        run_id = given.get("run_id") or "demo"
        row = dict.fromkeys(COLUMNS)
        row["problem"] = f"run '{run_id}': {problem}"
        return pd.DataFrame([row], columns=list(COLUMNS), dtype=object)
    return pd.DataFrame([_row(resolved)], columns=list(COLUMNS), dtype=object)
