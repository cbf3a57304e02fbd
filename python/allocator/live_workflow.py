"""The CLI's live-run workflows: start a live run (`allocator run --live`) and
append the sessions of a new file to it (`allocator update`), then tell the
desk what to trade: next_session_targets as CSV and JSON and one summary
line, with an alert line for a regime change or a large scalar move.

The update is a dbt build of the same models as a run, with var
live_update (macros/live_update.sql): it reads a bounded lookback of the
stored closes plus the file's new sessions, continues the incremental layers
from their stored rows and publishes the new rows in one transaction.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocator import database, snapshots, workflow
from allocator.errors import AllocatorError
from allocator.workflow import Emit, RunRequest, Settings

__all__ = [
    "DEFAULT_SCALAR_ALERT",
    "TARGETS_CSV",
    "TARGETS_JSON",
    "UpdateRequest",
    "start",
    "summary_lines",
    "update",
]

TARGETS_CSV = "next_session_targets.csv"
TARGETS_JSON = "next_session_targets.json"
#: A move of the next session's scalar larger than this is an alert line.
DEFAULT_SCALAR_ALERT = 0.05
# What an update does not build: the two-pass comparison (a live run is not
# a scaled run) and the seeds its start (or any build) loaded into `build`.
UPDATE_EXCLUDE = ("tag:two_pass", "resource_type:seed", "resource_type:unit_test")
TESTS_EXCLUDE = ("resource_type:test",)
TARGET_COLUMNS = (
    "as_of_date",
    "next_session_date",
    "symbol",
    "target_weight_unscaled",
    "target_weight_scaled",
    "held_weight_scaled",
    "weight_change",
    "risk_scalar",
    "regime",
    "target_rebalance_date",
)


@dataclass(frozen=True)
class UpdateRequest:
    """One `allocator update`."""

    run_id: str
    # input files given on the command line (var -> path); the rest are the run's
    inputs: tuple[tuple[str, str], ...] = ()
    end: dt.date | None = None
    restate_from: dt.date | None = None
    scalar_alert: float = DEFAULT_SCALAR_ALERT
    run_tests: bool = False


def staged_input(settings: Settings, run_id: str, var: str, path: str) -> str:
    """A live run's input file copied to a fixed place per run and input.

    dbt bakes the input files' paths into its parse; a file named differently
    every day would make every update parse the whole project again. The copy
    keeps the path the same from one update to the next, so dbt's partial
    parse holds (what the run read is stored in artifacts.live_closes)."""
    source = Path(path)
    folder = settings.db_path.parent / ".allocator" / "live" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{var.removesuffix('_path')}{source.suffix.lower()}"
    if source.resolve() != target.resolve():
        temporary = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, temporary)
        temporary.replace(target)
    return str(target)


def start(settings: Settings, request: RunRequest, emit: Emit) -> None:
    """`allocator run --live`: build the whole run, store what its updates
    need, export it and print the desk's summary."""
    staged = tuple(
        (var, staged_input(settings, request.run_id, var, path) if path else path)
        for var, path in request.inputs
        if var in ("prices_path", "portfolio_returns_path", "weights_path")
    )
    others = tuple((var, path) for var, path in request.inputs if var not in dict(staged))
    live_request = dataclasses.replace(request, inputs=tuple(sorted(staged + others)), live=True)
    workflow.run(settings, live_request, emit)
    with database.read_only(settings.db_path) as con:
        emit_desk(con, settings, request.run_id, DEFAULT_SCALAR_ALERT, emit)


def _stored_live_run(con: Any, run_id: str, settings: Settings) -> dict[str, Any]:
    run = database.require_run(con, run_id, settings.db_path)
    live = (
        con.execute(
            "select cast(last_session as varchar) from marts.live_runs where run_id = ?",
            [run_id],
        ).fetchall()
        if database.table_exists(con, "live_runs")
        else []
    )
    if not live:
        raise AllocatorError(
            f"run '{run_id}' is not a live run: start one with "
            f"`allocator run --live --run-id {run_id} ...`"
        )
    return {**run, "last_session": live[0][0]}


def update_vars(
    settings: Settings, request: UpdateRequest, stored: Mapping[str, Any]
) -> dict[str, Any]:
    """The update's dbt vars: the run id, live_update, and the input files
    (the ones given, staged, else the run's own)."""
    config = json.loads(str(stored["config_json"]))
    inputs = {var: str(path or "") for var, path in config["inputs"].items()}
    for var, path in request.inputs:
        inputs[var] = (
            staged_input(settings, request.run_id, var, path)
            if path and var in ("prices_path", "portfolio_returns_path", "weights_path")
            else path
        )
    dbt_vars: dict[str, Any] = {"run_id": request.run_id, "live_update": True, **inputs}
    if request.end:
        dbt_vars["end"] = request.end.isoformat()
    if request.restate_from:
        dbt_vars["restate_from"] = request.restate_from.isoformat()
    return dbt_vars


def update(settings: Settings, request: UpdateRequest, emit: Emit) -> None:
    """`allocator update`: append the file's new sessions to a live run."""
    from allocator import dbt_invoke

    workflow.check_project(settings)
    with database.read_only(settings.db_path) as con:
        stored = _stored_live_run(con, request.run_id, settings)
    dbt_vars = update_vars(settings, request, stored)
    parse_vars = {k: v for k, v in dbt_vars.items() if k.endswith("_path")}
    exclude = UPDATE_EXCLUDE + (() if request.run_tests else TESTS_EXCLUDE)
    with snapshots.writer_lock(settings.db_path, emit) as con:
        manifest = workflow.parse(settings, emit, parse_vars)
        label = f"update {request.run_id}"
        what = f"from {request.restate_from}" if request.restate_from else "new sessions"
        emit(f"{label}: dbt build ({what} after {stored['last_session']}) ...")
        outcome = dbt_invoke.invoke(
            "build",
            settings.project_dir,
            dbt_vars,
            settings.verbose,
            manifest,
            ("--exclude", *exclude),
        )
        if not outcome.success:
            raise workflow.build_failure(label, outcome, settings, request.run_id)
        emit(f"{label}: {outcome.describe()}")
        last = con.execute(
            "select cast(last_session as varchar) from marts.live_runs where run_id = ?",
            [request.run_id],
        ).fetchone()[0]
        if last == stored["last_session"] and not request.restate_from:
            emit(
                f"live run {request.run_id} is up to date at {last}: the file has no session "
                "after it; nothing was changed"
            )
        emit_desk(con, settings, request.run_id, request.scalar_alert, emit)


def targets(con: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's next_session_targets rows, by symbol."""
    cursor = con.execute(
        "select * from marts.next_session_targets where run_id = ? order by symbol", [run_id]
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_targets(rows: Sequence[Mapping[str, Any]], run_dir: Path) -> list[Path]:
    """next_session_targets.csv (one row per symbol) and .json (the book's
    figures once, then the symbols), written whole or not at all."""
    run_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = run_dir / TARGETS_CSV, run_dir / TARGETS_JSON
    temporary = csv_path.with_name(csv_path.name + ".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TARGET_COLUMNS)
        for row in rows:
            writer.writerow([_json_value(row[c]) for c in TARGET_COLUMNS])
    temporary.replace(csv_path)
    book_keys = (
        "run_id",
        "as_of_date",
        "next_session_date",
        "regime",
        "regime_changed",
        "days_in_regime",
        "target_rebalance_date",
        "rebalances_at_close",
        "scalar_decided_at",
        "risk_scalar",
        "risk_scalar_today",
        "risk_scalar_change",
        "gross_exposure",
        "gross_exposure_unscaled",
        "gross_exposure_today",
    )
    document = {
        **({k: _json_value(rows[0][k]) for k in book_keys} if rows else {}),
        "positions": [
            {
                k: _json_value(row[k])
                for k in (
                    "symbol",
                    "target_weight_unscaled",
                    "target_weight_scaled",
                    "held_weight_scaled",
                    "weight_change",
                )
            }
            for row in rows
        ],
    }
    temporary = json_path.with_name(json_path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(json_path)
    return [csv_path, json_path]


def summary_lines(run_id: str, rows: Sequence[Mapping[str, Any]], scalar_alert: float) -> list[str]:
    """One line for the desk, and an ALERT line for a regime change at the
    close or a move of the next session's scalar above ``scalar_alert``."""
    if not rows:
        return [f"{run_id}: no targets (the run has no session)"]
    book = rows[0]
    moved = [r for r in rows if abs(r["weight_change"] or 0.0) > 1e-12]
    regime = book["regime"] or "not ready"
    change = book["risk_scalar_change"] or 0.0
    # a change that rounds to zero prints +0.000, never -0.000
    change_text = f"{change:+.3f}".replace("-0.000", "+0.000")
    line = (
        f"{book['as_of_date']} {run_id}: {regime}, scalar {book['risk_scalar']:.3f} "
        f"({change_text}) for {book['next_session_date']}, gross {book['gross_exposure']:.2f} "
        f"(today {book['gross_exposure_today']:.2f}), "
        + (
            f"rebalance to {book['target_rebalance_date']}'s weights"
            if book["rebalances_at_close"]
            else "no rebalance"
        )
        + f": {len(moved)} of {len(rows)} positions change"
    )
    lines = [line]
    if book["regime_changed"]:
        lines.append(
            f"ALERT {book['as_of_date']} {run_id}: regime changed to {regime} at the close"
        )
    if abs(change) > scalar_alert:
        lines.append(
            f"ALERT {book['as_of_date']} {run_id}: scalar moves {book['risk_scalar_today']:.3f} "
            f"-> {book['risk_scalar']:.3f} ({change:+.3f}, more than {scalar_alert:g})"
        )
    return lines


def emit_desk(con: Any, settings: Settings, run_id: str, scalar_alert: float, emit: Emit) -> None:
    """Write the targets files and print the summary and alert lines."""
    rows = targets(con, run_id)
    written = write_targets(rows, settings.run_dir(run_id))
    emit(f"next-session targets: {written[0]} and {written[1].name}")
    for line in summary_lines(run_id, rows, scalar_alert):
        emit(line)
