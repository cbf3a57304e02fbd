"""Where an `allocator` command's dbt time goes: per resource type, the time
inside DuckDB statements and the rest (dbt's own per-node work).

    .venv/bin/python benchmarks/profile_demo.py                 # allocator demo
    .venv/bin/python benchmarks/profile_demo.py two-pass ...    # any CLI command

dbt runs on one thread here (``--threads 1``), so a node's time is not
inflated by waits for the interpreter lock that other dbt threads hold; the
totals are therefore the work, not the wall time of a normal run. The
figures in docs/performance.md ("Where the demo two-pass's time goes") come
from this script.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    """Statement time so far, and per resource type: nodes, wall, statements."""

    sql_seconds: float = 0.0
    statements: int = 0
    nodes: dict[str, list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0.0, 0.0])
    )

    def lines(self) -> list[str]:
        out = [f"DuckDB statements: {self.statements}, {self.sql_seconds:.2f} s"]
        for kind, (count, wall, sql) in sorted(self.nodes.items()):
            out.append(
                f"{kind}: {int(count)} nodes, {wall:.2f} s, of which SQL {sql:.2f} s "
                f"and dbt's own work {wall - sql:.2f} s"
            )
        return out


def one_thread(dbt_args: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """dbt_invoke.dbt_args with --threads 1 on builds."""

    def args(command: str, *rest: Any, **options: Any) -> list[str]:
        built = dbt_args(command, *rest, **options)
        return [*built, "--threads", "1"] if command == "build" else built

    return args


def timed_execute(tally: Tally, execute: Callable[..., Any]) -> Callable[..., Any]:
    """dbt-duckdb's cursor execute, adding each statement's time to the tally."""

    def wrapper(cursor: Any, sql: str, bindings: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return execute(cursor, sql, bindings)
        finally:
            tally.sql_seconds += time.perf_counter() - started
            tally.statements += 1

    return wrapper


def timed_node(tally: Tally, safe_run: Callable[..., Any]) -> Callable[..., Any]:
    """dbt's per-node runner, adding the node's wall and statement time."""

    def wrapper(runner: Any, manifest: Any) -> Any:
        sql_before, started = tally.sql_seconds, time.perf_counter()
        try:
            return safe_run(runner, manifest)
        finally:
            entry = tally.nodes[str(runner.node.resource_type)]
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += tally.sql_seconds - sql_before

    return wrapper


def main(argv: Sequence[str]) -> int:
    started = time.perf_counter()
    from dbt.adapters.duckdb.environments import local
    from dbt.task import base

    from allocator import cli, dbt_invoke

    imported = time.perf_counter() - started
    tally = Tally()
    dbt_invoke.dbt_args = one_thread(dbt_invoke.dbt_args)  # type: ignore[assignment]
    local.DuckDBCursorWrapper.execute = timed_execute(tally, local.DuckDBCursorWrapper.execute)  # type: ignore[method-assign]
    base.BaseRunner.safe_run = timed_node(tally, base.BaseRunner.safe_run)  # type: ignore[method-assign]
    code = cli.main(list(argv) or ["demo"])
    total = time.perf_counter() - started
    print(f"imports (allocator, dbt, adapter): {imported:.2f} s; whole command: {total:.2f} s")
    print("\n".join(tally.lines()))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
