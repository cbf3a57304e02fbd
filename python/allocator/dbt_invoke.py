"""Running dbt in-process (dbt's programmatic runner) and turning its result
into a short outcome: success, timing, node counts and clean error messages.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# dbt appends the macro call chain ("> in macro x (macros/y.sql)") to compiler
# errors; the user needs the message, not dbt's stack.
_STACK_LINE = re.compile(r"^\s*>\s*(in macro|called by)\b")
_FAILED_STATUSES = {"error", "fail", "runtime error"}
# "Compilation Error in model stg_run_config (models/staging/stg_run_config.sql)":
# the node is named separately, only the kind of error is kept
_ERROR_HEADER = re.compile(r"^(?P<kind>[A-Za-z ]*Error) in [a-z_ ]+ \S+( \(.*\))?$")


@dataclass(frozen=True)
class DbtOutcome:
    """What one dbt invocation did."""

    command: str
    success: bool
    seconds: float
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: Sequence[str] = ()
    manifest: Any = None

    def describe(self) -> str:
        """e.g. 'dbt build ok in 4.2 s: 58 success, 131 pass'."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        state = "ok" if self.success else "FAILED"
        return f"dbt {self.command} {state} in {self.seconds:.1f} s" + (
            f": {counts}" if counts else ""
        )


def run_vars(
    run_id: str,
    strategy_profile: str,
    start: str,
    end: str,
    mode: str = "off",
    precomputed_run_id: str | None = None,
) -> dict[str, Any]:
    """The --vars of one run, in the shape macros/run_config.sql validates."""
    allocator_v1: dict[str, Any] = {"enabled": mode != "off", "mode": mode}
    if precomputed_run_id:
        allocator_v1["precomputed_run_id"] = precomputed_run_id
    return {
        "run_id": run_id,
        "strategy_profile": strategy_profile,
        "start": start,
        "end": end,
        "allocator_v1": allocator_v1,
    }


def dbt_args(
    command: str,
    project_dir: Path,
    dbt_vars: Mapping[str, Any],
    verbose: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """Command line for dbtRunner.invoke.

    Unless verbose: no console log (the CLI prints its own summary and the
    errors it extracts) and an info-level log file, since dbt's default debug
    file log (every SQL statement) costs about a quarter of a build's time.
    --no-write-json: the CLI reads the results from the runner, and writing
    target/manifest.json costs about 0.25 s per invocation (three per audit).
    """
    args = [
        command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--no-write-json",
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True)]
    if not verbose:
        args += ["--log-level", "none", "--log-level-file", "info"]
    return args + list(extra)


def clean_message(text: str) -> str:
    """A dbt error message without colour codes, macro call chains or blank lines."""
    lines = [ANSI_ESCAPE.sub("", line).rstrip() for line in str(text).splitlines()]
    kept = [line.strip() for line in lines if line.strip() and not _STACK_LINE.match(line)]
    return "\n".join(kept)


def node_message(text: str) -> str:
    """A node's error message without dbt's header line repeating the node name."""
    lines = clean_message(text).splitlines()
    if lines:
        header = _ERROR_HEADER.match(lines[0])
        if header:
            lines = lines[1:]
            if lines:
                lines[0] = f"{header['kind']}: {lines[0]}"
            else:
                lines = [header["kind"]]
    return "\n".join(lines)


def _status(result: Any) -> str:
    return str(getattr(result.status, "value", result.status)).lower()


def node_errors(results: Sequence[Any]) -> list[str]:
    """One message per failed node (errors and failing tests), naming the node."""
    messages = []
    for result in results:
        status = _status(result)
        if status not in _FAILED_STATUSES:
            continue
        node = getattr(result, "node", None)
        if node is None:  # run-operation: the macro's own message
            messages.append(clean_message(result.message or "error"))
            continue
        where = f"{node.resource_type} {node.name}"
        path = getattr(node, "original_file_path", None)
        if path:
            where += f" ({path})"
        if status == "fail":
            failures = getattr(result, "failures", None)
            detail = f"{failures} failing row(s)" if failures is not None else "failed"
            message = node_message(result.message or "")
            messages.append(f"{where}: {detail}" + (f" — {message}" if message else ""))
        else:
            messages.append(f"{where}: {node_message(result.message or 'error')}")
    return messages


def status_counts(results: Sequence[Any]) -> dict[str, int]:
    """How many nodes ended in each status (success, pass, error, skipped, ...)."""
    return dict(Counter(_status(result) for result in results))


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """dbt resolves relative paths (data files, reports/runs) from the cwd."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def release_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after a command.

    dbt-duckdb holds one database instance per process in a class attribute
    and only drops it at exit; in-process, that blocks opening the file again
    (read-only for the exports) and keeps the write lock away from other
    processes. There is no public API for this, hence the private names.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing held
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if environment is not None:
            environment.close()


def reset_compiled_state(manifest: Any) -> None:
    """Undo what one build leaves in a reused manifest that would change the next.

    dbt compiles every node it runs afresh, but skips re-injecting ephemeral
    CTEs into a node already flagged as injected, so a second build with the
    same manifest would run SQL without them. (A copy would be cleaner, but
    dbt 1.11's Manifest does not survive copy.deepcopy or pickle.)
    """
    for node in manifest.nodes.values():
        # only nodes that ref an ephemeral model carry CTEs (seeds have none
        # and a read-only flag)
        if getattr(node, "extra_ctes", None):
            node.extra_ctes_injected = False
            node.extra_ctes = []


def invoke(
    command: str,
    project_dir: Path,
    dbt_vars: Mapping[str, Any],
    verbose: bool = False,
    manifest: Any = None,
    extra: Sequence[str] = (),
    callbacks: Sequence[Any] | None = None,
) -> DbtOutcome:
    """Run one dbt command in this process and summarise it.

    ``manifest``: a manifest parsed earlier in this process with the same
    project files, reused so dbt does not parse again (see the two-pass
    workflow for why that is safe here).
    """
    # Imported here: importing dbt costs about a second, which argument errors
    # and --help should not pay.
    from dbt.cli.main import dbtRunner

    from allocator import progress

    if callbacks is None:  # the CLI's progress line, when it is reporting
        callbacks = progress.current_callbacks(f"dbt {command}")
    args = dbt_args(command, project_dir, dbt_vars, verbose, extra)
    if manifest is not None:
        reset_compiled_state(manifest)
    started = time.perf_counter()
    try:
        with working_directory(project_dir):
            result = dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(args)
    finally:
        release_database()
    seconds = time.perf_counter() - started
    if command == "parse":
        return DbtOutcome(
            command,
            result.success,
            seconds,
            errors=() if result.success else (clean_message(str(result.exception)),),
            manifest=result.result if result.success else None,
        )
    results = list(getattr(result.result, "results", None) or [])
    errors = node_errors(results)
    if result.exception is not None:
        errors.insert(0, clean_message(str(result.exception)))
    if not result.success and not errors:
        errors.append(f"dbt {command} failed without an error message; rerun with --verbose")
    return DbtOutcome(
        command,
        result.success,
        seconds,
        status_counts(results),
        tuple(errors),
    )
