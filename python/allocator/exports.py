"""Writing a run's artifacts to reports/runs/<run_id>/ under the seeds' file
names and column layouts (the date column first), read from the database.

Every file is written to a temporary name in the same folder and renamed into
place, so a failure never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from allocator.database import table_exists
from allocator.errors import AllocatorError
from allocator.run_config import sql_literal


@dataclass(frozen=True)
class CsvExport:
    """One run-keyed table exported as a CSV file.

    ``leading``: columns written first, in this order (the seeds' layout);
    the table's other columns follow in table order. ``renames`` maps a table
    column to its name in the file. ``only``: write just ``leading``.
    """

    filename: str
    table: str
    leading: tuple[str, ...]
    order_by: tuple[str, ...]
    renames: Mapping[str, str] | None = None
    only: bool = False


CSV_EXPORTS: tuple[CsvExport, ...] = (
    CsvExport("allocator_state_v1.csv", "allocator_state_v1", ("date",), ("date",)),
    CsvExport("allocator_regime_v1.csv", "allocator_regime_v1", ("date", "regime"), ("date",)),
    CsvExport("allocator_risk_v1.csv", "allocator_risk_v1", ("date", "risk_scalar"), ("date",)),
    CsvExport(
        "allocator_risk_v1_applied.csv",
        "allocator_risk_v1_applied",
        ("rebalance_date", "risk_scalar_applied"),
        ("rebalance_date",),
    ),
    CsvExport(
        "weights_raw.csv",
        "weights_raw",
        ("rebalance_date", "symbol", "weight"),
        ("rebalance_date", "symbol"),
    ),
    CsvExport(
        "weights_scaled.csv",
        "weights_scaled",
        ("rebalance_date", "symbol"),
        ("rebalance_date", "symbol"),
    ),
    CsvExport(
        "allocator_scalars_at_rebalances.csv",
        "allocator_scalars_at_rebalances",
        ("rebalance_date",),
        ("rebalance_date",),
    ),
    # The seeds read this one with index_col=0 and column 'ret'.
    CsvExport(
        "portfolio_returns.csv",
        "portfolio_returns",
        ("date", "portfolio_return"),
        ("date",),
        renames={"portfolio_return": "ret"},
        only=True,
    ),
    CsvExport(
        "equity_curve.csv",
        "portfolio_returns",
        ("date", "equity", "drawdown"),
        ("date",),
        only=True,
    ),
)

META_EXPORTS: tuple[tuple[str, str], ...] = (
    ("allocator_state_v1_meta.json", "allocator_state_v1_meta"),
    ("allocator_regime_v1_meta.json", "allocator_regime_v1_meta"),
    ("allocator_risk_v1_meta.json", "allocator_risk_v1_meta"),
    ("allocator_risk_v1_applied_meta.json", "allocator_risk_v1_applied_meta"),
)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it
    into place (atomic on one file system); the temporary file never survives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique hidden name, created by ``write`` itself so it gets the usual
    # permissions (mkstemp would make it private)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table in table order."""
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema in ('marts', 'artifacts') and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def export_columns(spec: CsvExport, columns: Sequence[str]) -> list[str]:
    """Columns of the file in order: leading ones, then the rest (never run_id)."""
    missing = [c for c in spec.leading if c not in columns]
    if missing:
        raise AllocatorError(
            f"table {spec.table} has no column(s) {', '.join(missing)} needed for "
            f"{spec.filename}; rebuild the run with this version of the project"
        )
    rest = [] if spec.only else [c for c in columns if c not in spec.leading and c != "run_id"]
    return [*spec.leading, *rest]


def export_query(spec: CsvExport, columns: Sequence[str], run_id: str) -> str:
    """The select writing one run's rows of ``spec.table`` in the file's layout."""
    renames = spec.renames or {}
    select = ", ".join(
        _quote_identifier(c) + (f" as {_quote_identifier(renames[c])}" if c in renames else "")
        for c in columns
    )
    order = ", ".join(_quote_identifier(c) for c in spec.order_by)
    return (
        f"select {select} from {_quote_identifier(spec.table)} "
        f"where run_id = {sql_literal(run_id)} order by {order}"
    )


def write_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> Path:
    """COPY a query to a CSV file (header, comma, ISO dates) atomically.

    DuckDB prints doubles in their shortest round-trip form, so the file
    reproduces the stored values exactly.
    """

    def copy(tmp: Path) -> None:
        con.execute(f"copy ({query}) to {sql_literal(str(tmp))} (header, delimiter ',')")

    return atomic_write(path, copy)


def _json_value(value: Any) -> Any:
    """JSON text columns become JSON; dates and timestamps ISO strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def meta_document(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> dict[str, Any]:
    """The run's row of a *_meta table as a JSON-ready dict."""
    cursor = con.execute(f"select * from {_quote_identifier(table)} where run_id = ?", [run_id])
    row = cursor.fetchone()
    if row is None:
        raise AllocatorError(f"table {table} has no row for run '{run_id}'; rebuild the run")
    names = [d[0] for d in cursor.description]
    return {name: _json_value(value) for name, value in zip(names, row, strict=True)}


def export_run(con: duckdb.DuckDBPyConnection, run_id: str, run_dir: Path) -> list[Path]:
    """Write every artifact of one run to ``run_dir``; returns the files written."""
    for table in {spec.table for spec in CSV_EXPORTS} | {table for _, table in META_EXPORTS}:
        if not table_exists(con, table):
            raise AllocatorError(
                f"table {table} is missing from the database: build a run first "
                "(`allocator run ...`) with this version of the project"
            )
    written = []
    for spec in CSV_EXPORTS:
        columns = export_columns(spec, table_columns(con, spec.table))
        written.append(write_csv(con, export_query(spec, columns, run_id), run_dir / spec.filename))
    for filename, table in META_EXPORTS:
        document = meta_document(con, table, run_id)
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
        written.append(atomic_write_text(run_dir / filename, text))
    return written
