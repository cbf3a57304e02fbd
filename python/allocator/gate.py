"""Glue of the gate model (models/run/stg_run__resolved.py): reads the
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
    RUN_ID_PATTERN,
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
    "risk_free_path": ("input__risk_free_rates", ("date", "rate")),
}


def is_spark(session: Any) -> bool:
    """Is ``session`` a SparkSession (the spark target, allocator.spark_gate)
    rather than the DuckDB connection of a dbt-duckdb Python model?"""
    return hasattr(session, "sparkContext")


def fetch(session: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of a query with ``?`` parameters, on either engine (both bind
    them as values, never as SQL text)."""
    if is_spark(session):
        return [tuple(row) for row in session.sql(sql, args=list(params or [])).collect()]
    return session.execute(sql, params or []).fetchall()


def table_exists(session: Any, schema: str, table: str) -> bool:
    """Does schema.table exist? Spark's session catalog has no information_schema."""
    if is_spark(session):
        return bool(session.catalog.tableExists(f"{schema}.{table}"))
    return bool(
        fetch(
            session,
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        )[0][0]
    )


def stored_runs(session: Any) -> dict[str, StoredRun]:
    """The published runs, with the scaled runs that use each baseline."""
    schema, table = REGISTRY
    if not table_exists(session, schema, table):
        return {}
    rows = fetch(
        session,
        f"select run_id, allocator_mode, config_json, precomputed_source, "
        f"precomputed_source_kind, config_hash, input_fingerprint "
        f"from {schema}.{table} order by run_id",
    )
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


#: What a scaled run reads of its baseline's published layers and must find
#: there, non-empty: the applied scalars always; with reuse_baseline_layers,
#: the book and the allocator's layers too.
BASELINE_LAYERS = ("allocator_risk_v1_applied",)
REUSED_LAYERS = (
    "portfolio_returns_unscaled",
    "allocator_state_v1",
    "allocator_regime_v1",
    "allocator_risk_v1",
)
#: Layers with a row only from the state's first ready session: a book
#: shorter than the warm-up stores none, and is complete without them.
AFTER_WARM_UP = ("allocator_regime_v1", "allocator_risk_v1")


def _published_rows(session: Any, layer: str, baseline: str, where: str = "true") -> int:
    if not table_exists(session, "artifacts", layer):
        return 0
    return fetch(
        session, f"select count(*) from artifacts.{layer} where run_id = ? and {where}", [baseline]
    )[0][0]


def baseline_gaps(session: Any, baseline: str, reuse: bool) -> list[str]:
    """The published layers of ``baseline`` a scaled run reads that are
    missing or hold no row of it (the regime and risk layers only once its
    state has a ready session)."""
    layers = (*BASELINE_LAYERS, *(REUSED_LAYERS if reuse else ()))
    warmed_up = bool(_published_rows(session, "allocator_state_v1", baseline, "is_ready"))
    return [
        layer
        for layer in layers
        if not _published_rows(session, layer, baseline)
        and (warmed_up or layer not in AFTER_WARM_UP)
    ]


def seed_calibrations(
    regime_rules: pd.DataFrame, regime_scalars: pd.DataFrame
) -> tuple[dict[str, list[list[Any]]], dict[str, dict[str, float]]]:
    """The regime seeds' rows per calibration: rules and regime -> target."""
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
    return rules, scalars


def config_row(
    given: dict[str, Any],
    *,
    profiles: list[dict[str, Any]],
    rules: dict[str, list[list[Any]]],
    scalars: dict[str, dict[str, float]],
    session: Any,
) -> dict[str, Any]:
    """The gate's row: the resolved run, or only `problem` (one line) when a var is wrong."""
    try:
        stored = stored_runs(session)
        # a live run's start and update (python/allocator/live.py)
        live.live_vars(given)
        if live.is_set(given.get("live_update")):
            given = live.update_vars(given, stored, session, os.path.isfile)
        resolved = resolve(
            given,
            profiles=profiles,
            regime_rules=rules,
            regime_scalars=scalars,
            stored_runs=stored,
            file_exists=os.path.isfile,
        )
        baseline = resolved.baseline
        if baseline is not None:
            gaps = baseline_gaps(
                session, baseline.run_id, resolved.unscaled_layers_from_run_id is not None
            )
            if gaps:
                raise ConfigProblem(
                    f"var allocator_v1.precomputed_run_id: baseline '{baseline.run_id}' is "
                    f"incomplete: no published rows in artifacts.{', artifacts.'.join(gaps)}; "
                    "rebuild the baseline (allocator run, or dbt build) before a scaled run"
                )
    except ConfigProblem as problem:
        run_id = str(given.get("run_id") or "demo")
        # a refused id is shown escaped, so the message stays one line
        shown = f"'{run_id}'" if RUN_ID_PATTERN.fullmatch(run_id) else repr(run_id)
        row = dict.fromkeys(COLUMNS)
        row["problem"] = f"run {shown}: {problem}"
        return row
    return _row(resolved)


def config_frame(
    run_vars_json: str,
    *,
    profiles: pd.DataFrame,
    regime_rules: pd.DataFrame,
    regime_scalars: pd.DataFrame,
    session: Any,
) -> pd.DataFrame:
    """One row: the resolved run, or only `problem` when a var is wrong."""
    rules, scalars = seed_calibrations(regime_rules, regime_scalars)
    row = config_row(
        json.loads(run_vars_json),
        profiles=profiles.to_dict("records"),
        rules=rules,
        scalars=scalars,
        session=session,
    )
    return pd.DataFrame([row], columns=list(COLUMNS), dtype=object)
