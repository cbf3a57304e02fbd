"""Writing a run's artifacts to reports/runs/<run_id>/ under the seeds' file
names and column layouts (the date column first), read from the database,
with the run's published metrics (run_metrics.csv, run_risk_metrics.csv).

Every file is written to a temporary name in the same folder and renamed into
place, so a failure never leaves a half-written file behind. The folder's
``export_manifest.json`` is removed first and written last: it records the
registry row (dbt_invocation_id, config_hash) the files were exported from,
so ``allocator runs`` can tell current files from stale ones.

A precomputed run also gets the seeds' three precomputed-mode files: the
scalars as loaded (``allocator_risk_v1_applied_source.csv``), the scalars
used at each rebalance (``allocator_risk_v1_applied_used.csv``) and
``allocator_precomputed_meta.json``.
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

# the checkout (or installed package) root: dbt's working directory by default
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


#: The marts run_metrics and run_risk_metrics of an exported run (one row each).
RUN_METRICS_FILENAME = "run_metrics.csv"
RUN_RISK_METRICS_FILENAME = "run_risk_metrics.csv"

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
    # The published metrics, so `allocator compare` reads a folder's figures
    # as it reads a stored run's, instead of measuring them again.
    CsvExport(RUN_METRICS_FILENAME, "run_metrics", ("first_date", "last_date"), ("first_date",)),
    CsvExport(RUN_RISK_METRICS_FILENAME, "run_risk_metrics", ("return_days",), ("return_days",)),
)

#: The manifest of an exported run folder (read by allocator.runs).
MANIFEST_FILENAME = "export_manifest.json"
#: The registry columns a manifest records; the files are current while the
#: run's row in marts.runs still has these values.
MANIFEST_KEYS = ("dbt_invocation_id", "config_hash")

# The seeds' files of a precomputed run (allocator_v1.mode = precomputed).
PRECOMPUTED_SOURCE_FILENAME = "allocator_risk_v1_applied_source.csv"
PRECOMPUTED_USED_FILENAME = "allocator_risk_v1_applied_used.csv"
PRECOMPUTED_META_FILENAME = "allocator_precomputed_meta.json"
PRECOMPUTED_FILES = (
    PRECOMPUTED_SOURCE_FILENAME,
    PRECOMPUTED_USED_FILENAME,
    PRECOMPUTED_META_FILENAME,
)
# Stage 6's files, for a run with sleeve-level scalars (var sleeve_scalars)
SLEEVE_EXPORT = CsvExport(
    "allocator_risk_v1_sleeve_scalars.csv",
    "allocator_risk_v1_sleeve_scalars",
    ("date", "sleeve", "risk_scalar"),
    ("date", "sleeve"),
)
SLEEVE_META_EXPORT = (
    "allocator_risk_v1_sleeve_scalars_meta.json",
    "allocator_risk_v1_sleeve_scalars_meta",
)
SLEEVE_FILES = (SLEEVE_EXPORT.filename, SLEEVE_META_EXPORT[0])
# the state layer's file leaves out the features its meta lists as missing
STATE_EXPORT = "allocator_state_v1.csv"
STATE_META_TABLE = "allocator_state_v1_meta"

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


def export_columns(
    spec: CsvExport, columns: Sequence[str], exclude: Sequence[str] = ()
) -> list[str]:
    """Columns of the file in order: leading ones, then the rest (never run_id,
    nor the ``exclude`` ones: features the run cannot compute)."""
    missing = [c for c in spec.leading if c not in columns]
    if missing:
        raise AllocatorError(
            f"table {spec.table} has no column(s) {', '.join(missing)} needed for "
            f"{spec.filename}; rebuild the run with this version of the project"
        )
    left_out = {"run_id", *exclude}
    rest = [] if spec.only else [c for c in columns if c not in spec.leading and c not in left_out]
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
    document = {name: _json_value(value) for name, value in zip(names, row, strict=True)}
    return seed_meta_layout(document)


def seed_meta_layout(document: Mapping[str, Any]) -> dict[str, Any]:
    """The seeds' meta layout: ``features_missing`` is a list of feature
    names (e.g. ["trend_breadth_20d"]); the stored reasons, a mapping of
    feature to reason, follow as ``features_missing_reasons``."""
    laid_out: dict[str, Any] = {}
    for name, value in document.items():
        if name == "features_missing" and isinstance(value, Mapping):
            laid_out[name] = list(value)
            laid_out["features_missing_reasons"] = dict(value)
        else:
            laid_out[name] = value
    return laid_out


def missing_features(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The state features a run cannot compute (its state meta's features_missing)."""
    row = con.execute(
        f"select features_missing from {_quote_identifier(STATE_META_TABLE)} where run_id = ?",
        [run_id],
    ).fetchone()
    if row is None or row[0] is None:
        return []
    value = _json_value(row[0])
    if isinstance(value, Mapping):
        return [str(name) for name in value]
    if isinstance(value, list):
        return [str(name) for name in value]
    return []


def registry_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """The run's row of the runs registry (marts.runs)."""
    cursor = con.execute("select * from marts.runs where run_id = ?", [run_id])
    row = cursor.fetchone()
    if row is None:
        raise AllocatorError(f"run '{run_id}' is not in the runs table; build it first")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def manifest_document(run: Mapping[str, Any], files: Sequence[str]) -> dict[str, Any]:
    """What export_manifest.json records: the registry values the files were
    exported from, and the files."""
    return {
        "run_id": run["run_id"],
        **{key: run.get(key) for key in MANIFEST_KEYS},
        "files": sorted(files),
    }


def _config(run: Mapping[str, Any]) -> dict[str, Any]:
    text = run.get("config_json")
    try:
        config = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        config = {}
    return config if isinstance(config, dict) else {}


def source_scalars_query(run: Mapping[str, Any], project_dir: Path | None) -> tuple[str, list[Any]]:
    """The select (and its bound parameters) of the scalars a precomputed run
    loaded: its baseline's published allocator_risk_v1_applied rows, or the
    rows of its scalar file (relative paths start at the dbt project)."""
    kind, source = run.get("precomputed_source_kind"), run.get("precomputed_source")
    if kind == "run":
        return (
            "select rebalance_date, risk_scalar_applied from artifacts.allocator_risk_v1_applied "
            "where run_id = ? order by rebalance_date",
            [source],
        )
    if kind == "file" and source:
        path = Path(str(source))
        if not path.is_absolute():
            path = (project_dir or PROJECT_ROOT) / path
        if not path.is_file():
            raise AllocatorError(
                f"run '{run['run_id']}' loaded its scalars from {source}, which is gone "
                f"({path}): restore the file to export {PRECOMPUTED_SOURCE_FILENAME}"
            )
        return str(path), []
    raise AllocatorError(
        f"run '{run['run_id']}' is precomputed but records no scalar source; rebuild it"
    )


def _write_source_scalars(
    con: duckdb.DuckDBPyConnection, run: Mapping[str, Any], path: Path, project_dir: Path | None
) -> Path:
    query, parameters = source_scalars_query(run, project_dir)
    if parameters:
        frame = con.execute(query, parameters).df()
    else:
        from allocator.scalars import load_file

        loaded = load_file(con, query)
        problems = loaded["problem"].dropna()
        if not problems.empty:
            raise AllocatorError(str(problems.iloc[0]))
        frame = loaded[["rebalance_date", "risk_scalar_applied"]].sort_values("rebalance_date")
    # through DuckDB, so dates and doubles are written as in the other files
    con.register("allocator_source_scalars", frame)
    try:
        return write_csv(
            con,
            "select cast(rebalance_date as date) as rebalance_date, "
            "cast(risk_scalar_applied as double) as risk_scalar_applied "
            "from allocator_source_scalars order by rebalance_date",
            path,
        )
    finally:
        con.unregister("allocator_source_scalars")


def precomputed_meta(con: duckdb.DuckDBPyConnection, run: Mapping[str, Any]) -> dict[str, Any]:
    """allocator_precomputed_meta.json: where the scalars came from and how
    many of the run's rebalances they matched."""
    block = _config(run).get("allocator_v1") or {}
    rebalances, filled = con.execute(
        "select count(*), count(case when is_missing_filled then 1 end) "
        "from allocator_scalars_at_rebalances where run_id = ?",
        [run["run_id"]],
    ).fetchone()
    kind, source = run.get("precomputed_source_kind"), run.get("precomputed_source")
    return {
        "run_id": run["run_id"],
        "mode": run.get("allocator_mode"),
        "source": source,
        "source_kind": kind,
        "precomputed_run_id": source if kind == "run" else None,
        "precomputed_scalar_filename": block.get("precomputed_scalar_filename"),
        "rebalances": int(rebalances),
        "matched": int(rebalances) - int(filled),
        "missing_filled": int(filled),
        "apply_missing_scalar_as": block.get("apply_missing_scalar_as"),
        "config_hash": run.get("config_hash"),
    }


def export_precomputed(
    con: duckdb.DuckDBPyConnection,
    run: Mapping[str, Any],
    run_dir: Path,
    project_dir: Path | None = None,
) -> list[Path]:
    """The seeds' precomputed-mode files of one run."""
    run_id = str(run["run_id"])
    used = (
        "select rebalance_date, risk_scalar_used from allocator_scalars_at_rebalances "
        f"where run_id = {sql_literal(run_id)} order by rebalance_date"
    )
    meta = json.dumps(precomputed_meta(con, run), indent=2) + "\n"
    return [
        _write_source_scalars(con, run, run_dir / PRECOMPUTED_SOURCE_FILENAME, project_dir),
        write_csv(con, used, run_dir / PRECOMPUTED_USED_FILENAME),
        atomic_write_text(run_dir / PRECOMPUTED_META_FILENAME, meta),
    ]


def export_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    run_dir: Path,
    project_dir: Path | None = None,
) -> list[Path]:
    """Write every artifact of one run to ``run_dir``; returns the files written.

    The manifest goes first (removed) and last (written), so a folder whose
    export failed half-way never passes for current.
    """
    for table in {spec.table for spec in CSV_EXPORTS} | {table for _, table in META_EXPORTS}:
        if not table_exists(con, table):
            raise AllocatorError(
                f"table {table} is missing from the database: build a run first "
                "(`allocator run ...`) with this version of the project"
            )
    run = registry_row(con, run_id)
    (run_dir / MANIFEST_FILENAME).unlink(missing_ok=True)
    not_computed = missing_features(con, run_id)
    written = []
    for spec in CSV_EXPORTS:
        exclude = not_computed if spec.filename == STATE_EXPORT else ()
        columns = export_columns(spec, table_columns(con, spec.table), exclude)
        written.append(write_csv(con, export_query(spec, columns, run_id), run_dir / spec.filename))
    for filename, table in META_EXPORTS:
        document = meta_document(con, table, run_id)
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
        written.append(atomic_write_text(run_dir / filename, text))
    if "sleeve_scalars" in _config(run):
        written += export_sleeve_scalars(con, run_id, run_dir)
    else:
        # a run id rebuilt without sleeve scalars keeps no sleeve files
        for name in SLEEVE_FILES:
            (run_dir / name).unlink(missing_ok=True)
    if run.get("allocator_mode") == "precomputed":
        written += export_precomputed(con, run, run_dir, project_dir)
    else:
        # a run id rebuilt as another kind keeps no precomputed files
        for name in PRECOMPUTED_FILES:
            (run_dir / name).unlink(missing_ok=True)
    written.append(write_manifest(run, run_dir, [p.name for p in written]))
    return written


def export_sleeve_scalars(con: duckdb.DuckDBPyConnection, run_id: str, run_dir: Path) -> list[Path]:
    """The sleeve scalars (date, sleeve, risk_scalar first) and their meta."""
    spec = SLEEVE_EXPORT
    columns = export_columns(spec, table_columns(con, spec.table), ())
    filename, table = SLEEVE_META_EXPORT
    text = json.dumps(meta_document(con, table, run_id), indent=2, sort_keys=False) + "\n"
    return [
        write_csv(con, export_query(spec, columns, run_id), run_dir / spec.filename),
        atomic_write_text(run_dir / filename, text),
    ]


def write_manifest(run: Mapping[str, Any], run_dir: Path, files: Sequence[str]) -> Path:
    """export_manifest.json: the registry values the folder's files came from."""
    text = json.dumps(manifest_document(run, files), indent=2) + "\n"
    return atomic_write_text(run_dir / MANIFEST_FILENAME, text)
