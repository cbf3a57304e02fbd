"""Build each universe's runs through the project's own CLI (a subprocess,
on a throwaway database), and read a stored baseline back as the tuning
sweep's :class:`allocator.tuning.BaselineBook`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from allocator.database import use_published_schemas
from allocator.sql_macros import macro_library
from allocator.tuning import BaselineBook, Governor, governor_from_config_json

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "core_v1"


def cli_environment(work: Path, database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ALLOCATOR_PROJECT_DIR": str(ROOT),
        "ALLOCATOR_HOME": str(work),
        "ALLOCATOR_DUCKDB_PATH": str(database),
        "ALLOCATOR_REPORTS_DIR": str(work / "reports"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DO_NOT_TRACK": "1",
    }


def allocator_command() -> list[str]:
    script = Path(sys.executable).with_name("allocator")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "allocator.cli"]


def run_cli(arguments: Sequence[str], work: Path, database: Path, log: Path) -> float:
    """One ``allocator`` command; seconds taken. Exits naming the log on failure."""
    command = [*allocator_command(), *arguments]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        env=cli_environment(work, database),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(" ".join(command) + "\n\n" + result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise SystemExit(f"allocator {arguments[0]} failed, see {log}")
    return seconds


def baseline_arguments(cli_args: Sequence[str], run_id: str) -> list[str]:
    return ["run", "--strategy-profile", PROFILE, *cli_args, "--run-id", run_id]
    # (mode off: the allocator's artifacts are computed, the book is not scaled)


def two_pass_arguments(
    cli_args: Sequence[str], name: str, governor_config: Path | None = None
) -> list[str]:
    # the stored {name}_base was built with the project's defaults, and a
    # scaled pass takes its baseline's scalars: another governor needs a
    # baseline of its own (pass 1 builds one)
    if governor_config:
        baseline = ["--governor-config", str(governor_config)]
    else:
        baseline = ["--baseline-run-id", f"{name}_base"]
    return [
        "two-pass",
        "--strategy-profile",
        PROFILE,
        *cli_args,
        *baseline,
        "--scaled-run-id",
        f"{name}_scaled",
        "--replace",
    ]


def load_baseline(database: Path, run_id: str) -> tuple[BaselineBook, Governor, dict[str, Any]]:
    """A stored baseline as the sweep reads it: the regime input of its
    published state (the project's regime_input macro, in SQL), its unscaled
    book, rebalances and weights, and the governor it was built with."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        use_published_schemas(con)
        config_json = con.execute(
            "select config_json from runs where run_id = ?", [run_id]
        ).fetchone()[0]
        state = con.execute(
            "select * exclude (run_id) from allocator_state_v1 where run_id = ? and is_ready "
            "order by date",
            [run_id],
        ).df()
        sessions = con.execute(
            "select date, held_rebalance_date, gross_return, turnover "
            "from portfolio_returns_unscaled where run_id = ? order by date",
            [run_id],
        ).df()
        rebalances = con.execute(
            "select rebalance_date from allocator_risk_v1_applied where run_id = ?",
            [run_id],
        ).df()
        weights = con.execute(
            "select rebalance_date, symbol, weight from weights_raw where run_id = ?", [run_id]
        ).df()
        meta = con.execute(
            "select features_missing from allocator_state_v1_meta where run_id = ?", [run_id]
        ).fetchone()
    finally:
        con.close()
    regime_input = regime_input_frame(state)
    book = BaselineBook.from_frames(regime_input, delivered(sessions, rebalances), weights)
    info = {"features_missing": json.loads(meta[0]) if meta and meta[0] else {}}
    return book, governor_from_config_json(config_json), info


def delivered(sessions: pd.DataFrame, rebalances: pd.DataFrame) -> pd.DataFrame:
    """The sessions with the close each cadence decides their scalar at: the
    one definition of delivery (macros/scalar_delivery.sql), rendered and run
    here as models/tuning/tuning_baseline_sessions.sql runs it."""
    sql = (
        "with {{ allocator.scalar_decisions('sessions', 'rebalances') }} "
        "select sessions.*, decided_at_rebalance_lagged, decided_at_rebalance, "
        "decided_at_daily from sessions inner join scalar_decisions using (date) "
        "order by date"
    )
    con = duckdb.connect()
    try:
        con.register("sessions", sessions)
        con.register("rebalances", rebalances)
        return con.execute(macro_library().render(sql)).df()
    finally:
        con.close()


def regime_input_frame(state: pd.DataFrame) -> pd.DataFrame:
    """macros/regime_input.sql over the ready state rows, through DuckDB
    itself (the macro's SQL, not a copy in pandas)."""
    sql = (ROOT / "macros" / "regime_input.sql").read_text()
    body = sql.split("{% macro regime_input(ready_relation) %}")[1].split("{%- endmacro %}")[0]
    body = body.replace("{{ ready_relation }}", "ready")
    con = duckdb.connect()
    con.register("ready", state)
    frame = con.execute(
        f"with {body} select * exclude (is_ready, correlation_method) from regime_input"
    ).df()
    con.close()
    return frame


def published(database: Path, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    con = duckdb.connect(str(database), read_only=True)
    try:
        use_published_schemas(con)
        return con.execute(query, list(params)).df()
    finally:
        con.close()


def config_rows(mapping: Mapping[str, Any]) -> str:
    return json.dumps(mapping, indent=2, sort_keys=True)
