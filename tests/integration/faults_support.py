"""Helpers of the fault suite (test_faults.py): run plain dbt in a subprocess
on a throwaway database, watch or interrupt it, and fingerprint what is stored.

Every dbt call gets its own database file, target and log directories, so the
suite runs beside a developer's dbt and beside itself (two calls at a time).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
FIXTURE_INPUTS = PROJECT_DIR / "tests" / "fixtures" / "inputs"
#: Where published runs live (macros/publish_run.sql); `build` is scratch.
STORED_SCHEMAS = ("artifacts", "marts")
#: Columns a stored table can be keyed by, in the order publish_run picks them.
RUN_KEYS = ("run_id", "scaled_run_id")
TIMEOUT = 600


def tiny_vars(run_id: str, **overrides: Any) -> dict[str, Any]:
    """The tiny hand-checkable book of tests/conftest.py (two symbols, own
    weights, 2021-01-06 to 2021-01-11); keyword arguments replace any var."""
    return {
        "run_id": run_id,
        "prices_path": str(FIXTURE_INPUTS / "tiny_prices.csv"),
        "benchmark_path": "",
        "weights_path": str(FIXTURE_INPUTS / "tiny_weights.csv"),
        "start": "2021-01-06",
        "end": "2021-01-11",
        **overrides,
    }


def scaled_vars(run_id: str, baseline: str, **overrides: Any) -> dict[str, Any]:
    """Pass 2 of the plain-dbt two-pass: apply stored baseline `baseline`'s scalars."""
    return tiny_vars(
        run_id,
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": baseline},
        **overrides,
    )


#: Pass 2 of the plain-dbt two-pass reads the baseline's unscaled layers.
PASS_2 = ("build", "--exclude", "tag:unscaled")


# --------------------------------------------------------------------------- dbt


def dbt_command(
    args: Sequence[str],
    db_path: Path,
    dbt_vars: Mapping[str, Any] | None,
    work_dir: Path,
    project_dir: Path = PROJECT_DIR,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one plain `dbt` call on `db_path`."""
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--no-use-colors",
    ]
    if dbt_vars is not None:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # unit tests check the code on fixtures, not how a run is stored, and
        # the rest of the suite runs them: here they would only cost time
        "ALLOCATOR_UNIT_TESTS": "false",
        # output lines arrive as dbt prints them: the kill points watch them
        "PYTHONUNBUFFERED": "1",
    }
    return command, env


@dataclass
class DbtResult:
    returncode: int
    output: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


def run_dbt(
    args: Sequence[str],
    db_path: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
    project_dir: Path = PROJECT_DIR,
) -> DbtResult:
    """Run one dbt command to its end; stdout and stderr together."""
    command, env = dbt_command(args, db_path, dbt_vars, work_dir or db_path.parent, project_dir)
    done = subprocess.run(
        command,
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return DbtResult(done.returncode, done.stdout)


class Watched:
    """A dbt command running in the background; its output is read line by line."""

    def __init__(
        self,
        args: Sequence[str],
        db_path: Path,
        dbt_vars: Mapping[str, Any] | None = None,
        work_dir: Path | None = None,
    ) -> None:
        command, env = dbt_command(args, db_path, dbt_vars, work_dir or db_path.parent)
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def until(self, predicate: Callable[[str], bool], timeout: float = TIMEOUT) -> str | None:
        """Read output up to and including the first line matching `predicate`;
        None if dbt ended (or `timeout` passed) without one."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.lines.append(line)
            if predicate(line):
                return line
            if time.monotonic() > deadline:
                break
        return None

    def signal(self, sig: int) -> None:
        """Signal this dbt process (only it: it was started by this object)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def finish(self, timeout: float = TIMEOUT) -> DbtResult:
        """Read the rest of the output and wait for dbt to end."""
        assert self.process.stdout is not None
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        finally:
            self.stop()
        self.lines.append(rest or "")
        return DbtResult(self.process.returncode, "".join(self.lines))

    def stop(self) -> None:
        """Make sure the process is gone (kill -9 if it is still running)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process.wait(timeout=60)


#: A node's result line, e.g. "63 of 184 OK created sql table model build.x ...".
RESULT_LINE = re.compile(r"\b(\d+) of (\d+) (?!START\b)[A-Z]+\b")


def node_done_counter() -> Callable[[str], bool]:
    """A predicate true on the line reporting the last node of the build done,
    i.e. right before dbt runs the on-run-end hook that publishes the run."""
    seen: set[str] = set()

    def last_node_done(line: str) -> bool:
        match = RESULT_LINE.search(line)
        if not match or " hook: " in line:
            return False
        seen.add(match.group(1))
        return len(seen) == int(match.group(2))

    return last_node_done


def line_has(text: str) -> Callable[[str], bool]:
    return lambda line: text in line


# --------------------------------------------------------------------------- state


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    rows = con.execute(
        "select table_schema, table_name, list(column_name order by ordinal_position) "
        "from information_schema.columns "
        f"where table_schema in ({', '.join(repr(s) for s in STORED_SCHEMAS)}) "
        "group by all order by 1, 2"
    ).fetchall()
    return [(schema, table, list(columns)) for schema, table, columns in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_hashes(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str],
    group_by: str | None = None,
) -> list[tuple[Any, str, int]]:
    """md5 of a table's rows (each row as text, sorted), per group or whole."""
    row = (
        "concat_ws(chr(31), "
        + ", ".join(f"coalesce(cast({_quoted(c)} as varchar), chr(0))" for c in columns)
        + ")"
    )
    key = _quoted(group_by) if group_by else "null"
    return con.execute(
        f"select {key} as key, md5(coalesce(string_agg(r, chr(30) order by r), '')), count(*) "
        f"from (select {key}, {row} as r from {relation}) group by all order by 1"
    ).fetchall()


def connect_read_only(db_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db_path), read_only=True)


def stored_state(db_path: Path) -> dict[str, str]:
    """Every stored table (schemas artifacts, marts) as {schema.table: hash}.

    The hash covers the column names and the rows, whatever their order. The
    database is opened read-only, after dbt ended (a WAL left by a killed
    process is replayed in memory, as any reader would)."""
    state: dict[str, str] = {}
    with connect_read_only(db_path) as con:
        for schema, table, columns in _tables(con):
            relation = f"{_quoted(schema)}.{_quoted(table)}"
            hashes = _row_hashes(con, relation, columns)
            digest = hashes[0][1] if hashes else "empty"
            rows = hashes[0][2] if hashes else 0
            state[f"{schema}.{table}"] = f"{','.join(columns)}|{rows}|{digest}"
    return state


def run_state(db_path: Path, exclude_columns: Iterable[str] = ()) -> dict[str, str]:
    """Every stored run's rows, as {schema.table/run: hash} (the run is the key
    column publish_run deletes by: run_id, else scaled_run_id); columns in
    `exclude_columns` are left out of the hash."""
    excluded = set(exclude_columns)
    state: dict[str, str] = {}
    with connect_read_only(db_path) as con:
        for schema, table, columns in _tables(con):
            key = next(k for k in RUN_KEYS if k in columns)
            kept = [c for c in columns if c not in excluded]
            relation = f"{_quoted(schema)}.{_quoted(table)}"
            for run, digest, rows in _row_hashes(con, relation, kept, key):
                state[f"{schema}.{table}/{run}"] = f"{rows}|{digest}"
    return state


def of_runs(state: Mapping[str, str], runs: Iterable[str]) -> dict[str, str]:
    wanted = set(runs)
    return {k: v for k, v in state.items() if k.rsplit("/", 1)[1] in wanted}


def query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with connect_read_only(db_path) as con:
        return con.execute(sql).fetchall()


def state_diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """What changed, for an assertion message."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"  {key}: {before.get(key, 'missing')} -> {after.get(key, 'missing')}")
    return "\n".join(lines) or "  (nothing)"


def copy_db(template: Path, directory: Path, name: str = "test.duckdb") -> Path:
    """A copy of a closed database file (and its WAL, if one was left)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    shutil.copyfile(template, target)
    wal = template.with_name(template.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target


def export_scalars(db_path: Path, run_id: str, path: Path) -> Path:
    """A stored run's applied scalars as a precomputed scalar file."""
    with connect_read_only(db_path) as con:
        rows = con.execute(
            "select strftime(rebalance_date, '%Y-%m-%d'), risk_scalar_applied "
            "from artifacts.allocator_risk_v1_applied where run_id = ? order by 1",
            [run_id],
        ).fetchall()
    assert rows, f"run {run_id!r} has no applied scalars"
    path.write_text(
        "rebalance_date,risk_scalar_applied\n" + "".join(f"{d},{v!r}\n" for d, v in rows)
    )
    return path
