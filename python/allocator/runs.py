"""Managing stored runs: `allocator runs` lists them, `allocator delete`
removes one (and, on request, the scaled runs built on it).

A run lives in the published schemas (``artifacts.*`` and ``marts.*``, every
table keyed by ``run_id``, the two-pass marts by ``scaled_run_id``) and in
its exported folder reports/runs/<run_id>/. The folder's
``export_manifest.json`` (written by allocator.exports) records the registry
values the files were exported from: the files are ``current`` while the
run's row in marts.runs still has them, ``stale`` once the run was rebuilt
(or the manifest is absent or unreadable), ``missing`` without a folder.

Run ids reach SQL only as bound parameters.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from allocator import database, snapshots
from allocator.errors import AllocatorError
from allocator.exports import MANIFEST_FILENAME, MANIFEST_KEYS

#: Export states of a run folder.
CURRENT, STALE, MISSING = "current", "stale", "missing"
#: What a value the table cannot show prints as.
NONE = "-"
#: Published tables keyed by the scaled run rather than by run_id.
SCALED_KEY = "scaled_run_id"


@dataclass(frozen=True)
class StoredRun:
    """One line of `allocator runs`."""

    run_id: str
    kind: str
    profile: str
    start: str
    end: str
    mode: str
    cadence: str
    created: str
    cagr: float | None
    ann_vol: float | None
    sharpe: float | None
    max_drawdown: float | None
    comparison: str
    exported: str
    # a live run's last stored session (marts.live_runs); "-" for other runs
    live: str = "-"
    # the input files the run read: "name#fingerprint", comma-separated
    inputs: str = NONE


# --------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------


def cadence_of(config_json: str | None) -> str:
    """The scaling cadence a run's configuration records, or "-" when the
    configuration has none (runs built before cadences existed)."""
    try:
        config = json.loads(config_json) if config_json else {}
    except json.JSONDecodeError:
        return NONE
    if not isinstance(config, dict):
        return NONE
    for holder in (config, config.get("allocator_v1"), config.get("allocator_parameters")):
        if isinstance(holder, dict) and holder.get("cadence") not in (None, ""):
            return str(holder["cadence"])
    return NONE


#: The input vars of a run's configuration, with their fingerprint columns in marts.runs.
INPUT_FINGERPRINTS = (
    ("prices_path", "prices_fingerprint"),
    ("benchmark_path", "benchmark_fingerprint"),
    ("weights_path", "weights_fingerprint"),
    ("portfolio_returns_path", "portfolio_returns_fingerprint"),
)


def input_files(row: Mapping[str, Any]) -> str:
    """The files a stored run read, as name#fingerprint (the first 8 characters of
    the fingerprint of its rows in marts.runs; none for runs stored before those)."""
    try:
        config = json.loads(row.get("config_json") or "{}")
    except json.JSONDecodeError:
        return NONE
    paths = config.get("inputs") if isinstance(config, dict) else None
    if not isinstance(paths, dict):
        return NONE
    files = []
    for var, column in INPUT_FINGERPRINTS:
        path = str(paths.get(var) or "")
        if path:
            fingerprint = str(row.get(column) or "")[:8]
            files.append(Path(path).name + (f"#{fingerprint}" if fingerprint else ""))
    return ", ".join(files) or NONE


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """A folder's export manifest, or None when absent or unreadable."""
    try:
        document = json.loads((run_dir / MANIFEST_FILENAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def export_state(run_dir: Path, run: Mapping[str, Any]) -> str:
    """current / stale / missing: are the exported files the stored run's?"""
    if not run_dir.is_dir():
        return MISSING
    manifest = read_manifest(run_dir)
    if manifest is None:
        return STALE
    same = all(manifest.get(key) == run.get(key) for key in MANIFEST_KEYS)
    return CURRENT if same and manifest.get("run_id") == run.get("run_id") else STALE


def _text(value: Any) -> str:
    if value is None:
        return NONE
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if not hasattr(value, "hour") else f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def list_runs(con: duckdb.DuckDBPyConnection, reports_dir: Path) -> list[StoredRun]:
    """Every stored run with its headline metrics and export state, oldest first."""
    if not database.table_exists(con, "runs"):
        return []
    metrics = database.table_exists(con, "run_metrics")
    select = (
        "select r.*, m.cagr as m_cagr, m.ann_vol as m_ann_vol, m.sharpe as m_sharpe, "
        "m.max_drawdown as m_max_drawdown from marts.runs r "
        "left join marts.run_metrics m using (run_id)"
        if metrics
        else "select r.*, null as m_cagr, null as m_ann_vol, null as m_sharpe, "
        "null as m_max_drawdown from marts.runs r"
    )
    live = (
        "left join (select run_id, last_session as l_last_session from marts.live_runs) l "
        "using (run_id)"
        if database.table_exists(con, "live_runs")
        else "left join (select null as run_id, null as l_last_session) l using (run_id)"
    )
    cursor = con.execute(f"select * from ({select}) r {live} order by r.created_at, r.run_id")
    names = [d[0] for d in cursor.description]
    runs = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        runs.append(
            StoredRun(
                run_id=row["run_id"],
                kind=_text(row.get("run_kind")),
                profile=_text(row.get("strategy_profile")),
                start=_text(row.get("start_date")),
                end=_text(row.get("end_date")),
                mode=_text(row.get("allocator_mode")),
                cadence=cadence_of(row.get("config_json")),
                created=_text(row.get("created_at")),
                cagr=_float(row["m_cagr"]),
                ann_vol=_float(row["m_ann_vol"]),
                sharpe=_float(row["m_sharpe"]),
                max_drawdown=_float(row["m_max_drawdown"]),
                comparison=_text(row.get("comparison_status")),
                exported=export_state(reports_dir / "runs" / row["run_id"], row),
                live=_text(row.get("l_last_session")),
                inputs=input_files(row),
            )
        )
    return runs


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.2f}%"


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


COLUMNS = (
    "run_id",
    "kind",
    "profile",
    "window",
    "mode",
    "cadence",
    "created",
    "CAGR",
    "vol",
    "Sharpe",
    "MaxDD",
    "comparison",
    "files",
    "live",
    "inputs",
)
# right-aligned: the numbers
NUMERIC = {"CAGR", "vol", "Sharpe", "MaxDD"}


def table_cells(run: StoredRun) -> list[str]:
    return [
        run.run_id,
        run.kind,
        run.profile,
        f"{run.start}..{run.end}",
        run.mode,
        run.cadence,
        run.created,
        _percent(run.cagr),
        _percent(run.ann_vol),
        _number(run.sharpe),
        _percent(run.max_drawdown),
        run.comparison,
        run.exported,
        run.live,
        run.inputs,
    ]


def format_table(runs: Sequence[StoredRun]) -> str:
    """A plain table, columns aligned, two spaces apart."""
    if not runs:
        return "no runs stored (build one with `allocator run` or `allocator two-pass`)"
    rows = [list(COLUMNS), *(table_cells(run) for run in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if name in NUMERIC else cell.ljust(width)
            for name, cell, width in zip(COLUMNS, row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def runs_json(runs: Sequence[StoredRun]) -> str:
    """Machine output: one object per run, metrics as fractions."""
    return json.dumps([asdict(run) for run in runs], indent=2)


# --------------------------------------------------------------------------
# deleting
# --------------------------------------------------------------------------


def scaled_dependants(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Stored runs other than ``run_id`` built on it: its scalars applied, or
    its unscaled layers read."""
    if not database.table_exists(con, "runs"):
        return []
    rows = con.execute(
        "select run_id from marts.runs where run_id <> ? and ("
        "(precomputed_source_kind = 'run' and precomputed_source = ?) "
        "or unscaled_layers_from_run_id = ?) order by run_id",
        [run_id, run_id, run_id],
    ).fetchall()
    return [row[0] for row in rows]


def refusal_message(run_id: str, dependants: Sequence[str], tunings: Sequence[str] = ()) -> str:
    """Why a baseline with scaled runs or tunings is not deleted alone."""
    parts = []
    if dependants:
        parts.append(
            f"the stored scaled run{'s' if len(dependants) > 1 else ''} {', '.join(dependants)}"
        )
    if tunings:
        parts.append(f"the stored tuning{'s' if len(tunings) > 1 else ''} {', '.join(tunings)}")
    them = "it" if len(dependants) + len(tunings) == 1 else "them"
    return (
        f"run '{run_id}' is the baseline of {' and '.join(parts)}: delete {them} first, "
        f"or add --with-dependents to delete {them} with '{run_id}'"
    )


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, key column) of every published table: key run_id, or
    scaled_run_id for the two-pass marts."""
    rows = con.execute(
        "select c.table_schema, c.table_name, list(c.column_name) "
        "from information_schema.columns c join information_schema.tables t "
        "on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema "
        "and t.table_name = c.table_name "
        "where c.table_schema in ('marts', 'artifacts') and t.table_type = 'BASE TABLE' "
        "and c.table_catalog = current_database() "
        "group by all order by 1, 2"
    ).fetchall()
    tables = []
    for schema, table, columns in rows:
        if "run_id" in columns:
            tables.append((schema, table, "run_id"))
        elif SCALED_KEY in columns:
            tables.append((schema, table, SCALED_KEY))
    return tables


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Deletion:
    """What `allocator delete` removed."""

    run_ids: tuple[str, ...]
    rows: int
    tables: int
    folders: tuple[Path, ...]
    # the marts' Parquet snapshots rewritten without the deleted runs
    snapshots: tuple[Path, ...] = ()
    # the tunings deleted with them (their baseline went)
    tunings: tuple[str, ...] = ()
    # what could not be done after the commit (a folder, the snapshots), one line each
    problems: tuple[str, ...] = ()


def delete_rows(
    con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], tuning_ids: Sequence[str] = ()
) -> tuple[int, int]:
    """Delete every row of these runs (and tunings) from every published table
    in one transaction; returns (rows, run tables touched). Nothing changes on
    failure."""
    tables = published_tables(con)
    total = touched = 0
    con.execute("begin transaction")
    try:
        total += delete_tunings(con, tuning_ids)
        for schema, table, key in tables:
            deleted = 0
            for run_id in run_ids:
                row = con.execute(
                    f"delete from {_quote(schema)}.{_quote(table)} where {_quote(key)} = ?",
                    [run_id],
                ).fetchone()
                deleted += int(row[0]) if row else 0
            total += deleted
            touched += bool(deleted)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return total, touched


def tuning_dependants(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> list[str]:
    """Stored tunings that swept one of these runs (marts.tuning_summary)."""
    if not database.table_exists(con, "tuning_summary"):
        return []
    marks = ", ".join("?" for _ in run_ids)
    rows = con.execute(
        f"select distinct tuning_id from marts.tuning_summary where baseline_run_id in ({marks}) "
        "order by tuning_id",
        list(run_ids),
    ).fetchall()
    return [row[0] for row in rows]


def delete_tunings(con: duckdb.DuckDBPyConnection, tuning_ids: Sequence[str]) -> int:
    """Delete these tunings' rows from every marts table keyed by tuning_id, in
    the caller's transaction; returns the rows deleted."""
    tables = con.execute(
        "select distinct c.table_name from information_schema.columns c "
        "join information_schema.tables t on t.table_catalog = c.table_catalog "
        "and t.table_schema = c.table_schema and t.table_name = c.table_name "
        "where c.table_schema = 'marts' and c.column_name = 'tuning_id' "
        "and t.table_type = 'BASE TABLE' and c.table_catalog = current_database() order by 1"
    ).fetchall()
    total = 0
    for (table,) in tables:
        for tuning_id in tuning_ids:
            row = con.execute(
                f"delete from marts.{_quote(table)} where tuning_id = ?", [tuning_id]
            ).fetchone()
            total += int(row[0]) if row else 0
    return total


def _remove_folder(folder: Path) -> str | None:
    """Remove a run's or tuning's exported folder; why not, or None. A
    symlinked folder loses its link only: what it points at is not ours."""
    try:
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder)
        else:
            return None
    except OSError as exc:
        return f"{folder} ({exc.strerror or exc})"
    return None


def delete_run(
    db_path: Path,
    reports_dir: Path,
    run_id: str,
    with_scaled: bool = False,
    emit: Callable[[str], None] | None = None,
) -> Deletion:
    """`allocator delete`: the run's rows (and with ``with_scaled``, the
    dependents': the scaled runs built on it and the tunings that swept any
    of them) from every published table in one transaction, then their
    report folders.

    A run that dependents use is refused without ``with_scaled``: a deleted
    baseline would leave them pointing at nothing. The write lock is taken as
    every writing command takes it (snapshots.writer_lock). Once the deletion
    is committed, nothing fails loudly: the marts' Parquet snapshots (if any
    were written) are rewritten and the folders removed, and what could not
    be done is reported in one line of the result (Deletion.problems)."""
    if not db_path.is_file():
        raise AllocatorError(
            f"database file {db_path} does not exist: there are no runs to delete "
            "(set ALLOCATOR_DUCKDB_PATH to the database that holds them)"
        )
    problems: list[str] = []
    with snapshots.writer_lock(db_path, emit) as con:
        database.use_published_schemas(con)
        database.require_run(con, run_id, db_path)
        dependants = scaled_dependants(con, run_id)
        tunings = tuning_dependants(con, (run_id, *dependants))
        if (dependants or tunings) and not with_scaled:
            raise AllocatorError(refusal_message(run_id, dependants, tunings))
        run_ids = (run_id, *dependants)
        rows, tables = delete_rows(con, run_ids, tunings)
        refreshed: list[Path] = []
        if snapshots.snapshot_dir(reports_dir).is_dir():
            try:
                refreshed = snapshots.write_snapshots(con, reports_dir)
            except (OSError, duckdb.Error) as exc:
                problems.append(
                    f"the Parquet snapshots in {snapshots.snapshot_dir(reports_dir)} were not "
                    f"rewritten ({exc}); run `allocator snapshot` once the folder is writable"
                )
    # the database no longer knows these runs: their files go too
    folders = []
    candidates = [reports_dir / "runs" / removed for removed in run_ids]
    candidates += [reports_dir / "tuning" / tuning_id for tuning_id in tunings]
    for folder in candidates:
        existed = folder.is_dir() or folder.is_symlink()
        failure = _remove_folder(folder)
        if failure:
            problems.append(f"could not remove {failure}: remove it by hand")
        elif existed:
            folders.append(folder)
    return Deletion(
        run_ids, rows, tables, tuple(folders), tuple(refreshed), tuple(tunings), tuple(problems)
    )


def deletion_text(deletion: Deletion, db_path: Path) -> str:
    """What `allocator delete` prints."""
    first, *scaled = deletion.run_ids
    what = f"run '{first}'"
    if scaled:
        what += f" and its scaled run(s) {', '.join(scaled)}"
    if deletion.tunings:
        what += f" and the tuning(s) {', '.join(deletion.tunings)}"
    lines = [
        f"deleted {what}: {deletion.rows} rows from {deletion.tables} tables of {db_path} "
        "(one transaction)"
    ]
    lines += [f"removed {folder}" for folder in deletion.folders]
    if deletion.snapshots:
        folder = deletion.snapshots[0].parent
        lines.append(f"snapshots: {len(deletion.snapshots)} marts rewritten as Parquet in {folder}")
    lines += [f"note: {problem}" for problem in deletion.problems]
    return "\n".join(lines)
