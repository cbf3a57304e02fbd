"""Live runs (Stage 9): the rules of a live run's start and daily update that
the gate applies before it resolves the run's vars.

A live update (var ``live_update``) names only the run and its new file;
everything else is the stored run's own configuration, so the update is the
same run with a later end. The end is the last date of the file unless
given. dbt's side (the bounded lookback, the incremental layers, the
append-only publish) is macros/live_update.sql.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from allocator.run_config import (
    BACKTEST_CALENDAR,
    GOVERNOR_CONFIG_CALIBRATION,
    INPUT_VARS,
    ConfigProblem,
    StoredRun,
    check_path,
    sql_literal,
)

__all__ = ["LIVE_MODES", "is_set", "live_vars", "update_vars"]

#: A live run computes its own scalars: mode off (computed, not applied) or
#: compute (applied at the run's cadence).
LIVE_MODES = ("off", "compute")

#: allocator_parameters' keys in a stored configuration -> the var that sets each.
PARAMETER_VARS = {
    "correlation_exact_max_symbols": "correlation_exact_max_symbols",
    "regime_min_days": "allocator_regime_min_days",
    "risk_ewma_alpha": "allocator_risk_ewma_alpha",
    "risk_scalar_floor": "allocator_risk_scalar_floor",
    "risk_scalar_cap": "allocator_risk_scalar_cap",
}


def is_set(value: object) -> bool:
    """A boolean var as dbt passes it (true, 'true', 'True')."""
    return str(value).strip().lower() == "true"


def _mode(given: Mapping[str, Any]) -> str:
    block = given.get("allocator_v1")
    return str((block or {}).get("mode") or "off") if isinstance(block, Mapping) else "off"


def file_last_date(path: str, var: str, session: Any, file_exists: Callable[[str], bool]) -> str:
    """The last date of an input file (ISO text); the path is checked first, so
    it reaches SQL only as a plain file name, quoted."""
    checked = check_path(path, var, file_exists)
    reader = (
        f"read_parquet({sql_literal(checked)})"
        if checked.lower().endswith(".parquet")
        else f"read_csv({sql_literal(checked)}, all_varchar = true, header = true)"
    )
    try:
        row = session.execute(
            "select cast(max(coalesce(try_cast(cast(date as varchar) as date), "
            "cast(try_cast(cast(date as varchar) as timestamp) as date))) as varchar) "
            f"from {reader}"
        ).fetchone()
    except Exception as exc:  # the staging models name the file's first problem
        raise ConfigProblem(f"{var}: cannot read '{checked}': {exc}") from exc
    if not row or row[0] is None:
        raise ConfigProblem(f"{var}: '{checked}' holds no dated row")
    return str(row[0])


def live_vars(given: Mapping[str, Any]) -> None:
    """A live run's start: refuse what a live run cannot be."""
    if is_set(given.get("live")) and _mode(given) not in LIVE_MODES:
        raise ConfigProblem(
            f"var live: a live run computes its own scalars; allocator_v1.mode "
            f"'{_mode(given)}' is not one of {', '.join(LIVE_MODES)} (use compute)"
        )


def update_vars(
    given: Mapping[str, Any],
    stored_runs: Mapping[str, StoredRun],
    session: Any,
    file_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """The vars of a live update: the stored run's configuration, this
    invocation's input files, and an end at the last date of the book's file
    (unless given). Raises ConfigProblem naming what is wrong."""
    run_id = str(given.get("run_id") or "")
    stored = stored_runs.get(run_id)
    if stored is None:
        known = ", ".join(sorted(stored_runs)) or "none"
        raise ConfigProblem(
            f"live_update: no stored run '{run_id}' to update (stored runs: {known}); "
            "start a live run first (allocator run --live, or dbt var live: true)"
        )
    config = stored.config
    calibration = (config.get("regime_calibration") or {}).get("name")
    if calibration == GOVERNOR_CONFIG_CALIBRATION:
        raise ConfigProblem(
            "live_update: the run was built with a governor config, which a live update "
            "does not carry over yet; start the live run with a calibration"
        )
    block = dict(config["allocator_v1"])
    if block.get("mode") not in LIVE_MODES:
        raise ConfigProblem(
            f"live_update: run '{run_id}' is a {block.get('mode')} run, not a live run"
        )
    inputs = {var: str(given.get(var) or "") for var in INPUT_VARS}
    source = (
        "weights_file"
        if inputs["weights_path"]
        else "returns_file"
        if inputs["portfolio_returns_path"]
        else "strategy"
    )
    if source != config["portfolio_source"]:
        raise ConfigProblem(
            f"live_update: run '{run_id}' is a {config['portfolio_source']} book, but this "
            f"update's input files make a {source} book: give the same kind of files"
        )
    book_var = "portfolio_returns_path" if source == "returns_file" else "prices_path"
    end = given.get("end") or file_last_date(inputs[book_var], book_var, session, file_exists)
    try:
        dt.date.fromisoformat(str(end))
    except ValueError as exc:
        raise ConfigProblem(f"end: '{end}' is not a date (expected YYYY-MM-DD)") from exc
    parameters = config["allocator_parameters"]
    return {
        **given,
        "strategy_profile": config["strategy_profile"],
        "start": config["start"],
        "end": str(end),
        "allocator_v1": block,
        "rebalance_calendar": config.get("rebalance_calendar", BACKTEST_CALENDAR),
        **{var: parameters[key] for key, var in PARAMETER_VARS.items()},
        # the same run with a later end (and today's file)
        "replace_run": True,
    }
