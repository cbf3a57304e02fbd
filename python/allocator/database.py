"""Opening the project's DuckDB file outside dbt: lock detection, read-only
access and run-id look-ups, each failing with a message that says what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from allocator.errors import AllocatorError, DatabaseLocked, RunNotFound

#: Where published runs live (macros/publish_run.sql): marts first, then the
#: layers. Unqualified table names resolve in this order.
PUBLISHED_SCHEMAS = ("marts", "artifacts")

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
#: Beside the database file while an allocator command holds its write lock
#: (snapshots.writer_lock): which command it is, so a refused reader or
#: writer is told to wait for it rather than to close it.
WRITER_NOTE_SUFFIX = ".writer.json"


def writer_note_path(db_path: Path) -> Path:
    """The note an allocator command leaves beside the database while it writes."""
    return db_path.with_name(db_path.name + WRITER_NOTE_SUFFIX)


def writer_note(db_path: Path) -> dict[str, object] | None:
    """The holding allocator command's note (pid, command, started), or None."""
    try:
        note = json.loads(writer_note_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def lock_message(db_path: Path, error_text: str) -> str | None:
    """The user-facing message for a DuckDB lock error, or None for other errors.

    When the holder is another allocator command (its writer note names the
    same pid), the message says which and to wait: closing it would abandon
    a run. Readers can meanwhile use the marts' Parquet snapshots.
    """
    if "Could not set lock" not in error_text and "Conflicting lock" not in error_text:
        return None
    match = _LOCK_HOLDER.search(error_text)
    note = writer_note(db_path)
    if note is not None and (match is None or str(note.get("pid")) == match["pid"]):
        return (
            f"database file {db_path} is being written by another allocator command "
            f"(pid {note.get('pid')}: {note.get('command')}, since {note.get('started')}) — "
            "wait for it to finish; meanwhile `allocator runs` and `allocator compare` read "
            "the Parquet snapshots of the marts (reports/marts/)"
        )
    holder = f" (pid {match['pid']}, {match['program']})" if match else " (pid unknown)"
    return (
        f"database file {db_path} is locked by another process{holder} — close it "
        "or set ALLOCATOR_DUCKDB_PATH to another file"
    )


def _raise_for(db_path: Path, exc: duckdb.Error) -> None:
    message = lock_message(db_path, str(exc))
    if message:
        raise DatabaseLocked(message) from exc
    raise AllocatorError(f"cannot open database file {db_path}: {exc}") from exc


def check_writable(db_path: Path) -> None:
    """Fail fast if another process holds the write lock dbt is about to need.

    DuckDB allows one writing process per file; dbt would otherwise fail after
    parsing with a less direct message. Creates the file when it is missing, as
    dbt would.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        duckdb.connect(str(db_path)).close()
    except duckdb.Error as exc:
        _raise_for(db_path, exc)


@contextmanager
def read_only(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to an existing database, closed on exit."""
    if not db_path.is_file():
        raise AllocatorError(
            f"database file {db_path} does not exist: run `allocator run` or "
            "`allocator two-pass` first, or set ALLOCATOR_DUCKDB_PATH to an existing file"
        )
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error as exc:
        _raise_for(db_path, exc)
    try:
        use_published_schemas(con)
        yield con
    finally:
        con.close()


def use_published_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """Resolve unqualified table names in the published schemas that exist
    (DuckDB refuses a search path naming a missing schema)."""
    present = {
        row[0]
        for row in con.execute(
            "select schema_name from information_schema.schemata where catalog_name = "
            "current_database()"
        ).fetchall()
    }
    schemas = [schema for schema in PUBLISHED_SCHEMAS if schema in present]
    if schemas:
        con.execute(f"set search_path = '{','.join(schemas)}'")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Is there a published table of this name (marts or artifacts)?"""
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema in ('marts', 'artifacts') and table_name = ?",
        [table],
    ).fetchone()
    return bool(row and row[0])


def known_run_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run ids in the runs registry (empty when nothing was built yet)."""
    if not table_exists(con, "runs"):
        return []
    return [row[0] for row in con.execute("select run_id from runs order by run_id").fetchall()]


def require_run(con: duckdb.DuckDBPyConnection, run_id: str, db_path: Path) -> dict[str, object]:
    """The registry row of a run, or an error listing the runs that do exist."""
    known = known_run_ids(con)
    if run_id not in known:
        listing = ", ".join(known) if known else "none (build one with `allocator run`)"
        raise RunNotFound(
            f"run id '{run_id}' is not in the runs table of {db_path}; known run ids: {listing}"
        )
    cursor = con.execute("select * from runs where run_id = ?", [run_id])
    columns = [d[0] for d in cursor.description]
    return dict(zip(columns, cursor.fetchone(), strict=True))
