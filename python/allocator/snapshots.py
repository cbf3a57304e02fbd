"""Safe reading while a run writes (issue 14).

DuckDB allows one writing process per database file, and a second process
that opens the file, even read-only, while the CLI's in-process dbt holds it
either breaks the writer or is refused. Two things make reading safe:

* :func:`writer_lock`: the CLI holds the write lock for a whole command (a
  two-pass: pass 1, its exports, pass 2, its exports, the comparison) by
  keeping one connection to the file open in this process. dbt-duckdb's own
  connection to the same file joins that database instance (DuckDB shares one
  instance per file and configuration within a process), and
  dbt_invoke.release_database() then only closes dbt's connection, not the
  file, so no other process can take the lock between two dbt invocations
  and see a run half published. A lock held by another process when the
  command starts is waited for briefly, naming the process, then reported.
* :func:`write_snapshots`: after each published pass, every ``marts.*``
  table is written to ``<reports>/marts/<table>.parquet``, each atomically
  (a temporary file in the same folder, then ``os.replace``), so BI tools and
  notebooks read the Parquet files and never open the database file at all.
  `allocator snapshot` writes them on demand (e.g. after a plain `dbt build`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from allocator import database
from allocator.errors import AllocatorError, DatabaseLocked

#: Seconds a command waits for a lock another process holds (a reader that
#: opened the file for a moment) before it gives up; ALLOCATOR_LOCK_WAIT
#: overrides it.
DEFAULT_LOCK_WAIT = 5.0
_RETRY_EVERY = 0.2
#: Where the snapshots go, under the reports folder.
SNAPSHOT_DIR = "marts"


def lock_wait(env: dict[str, str] | os._Environ[str] | None = None) -> float:
    """The lock wait in seconds: $ALLOCATOR_LOCK_WAIT, else the default."""
    value = (env if env is not None else os.environ).get("ALLOCATOR_LOCK_WAIT")
    if not value:
        return DEFAULT_LOCK_WAIT
    try:
        return max(0.0, float(value))
    except ValueError:
        raise AllocatorError(
            f"ALLOCATOR_LOCK_WAIT={value!r} is not a number of seconds (e.g. 5)"
        ) from None


def _connect_writer(
    db_path: Path, wait: float, emit: Callable[[str], None] | None
) -> duckdb.DuckDBPyConnection:
    """A read-write connection, retried while another process holds the lock."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            return duckdb.connect(str(db_path))
        except duckdb.Error as exc:
            message = database.lock_message(db_path, str(exc))
            if message is None:
                raise AllocatorError(f"cannot open database file {db_path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise DatabaseLocked(
                    message + (f" (waited {wait:g} s for it)" if wait else "")
                ) from exc
            if not told and emit is not None:
                # "database file X is locked by another process (pid N, prog) — ..."
                emit(f"{message.split(' — ')[0]}: waiting up to {wait:g} s for it ...")
                told = True
            time.sleep(_RETRY_EVERY)


@contextlib.contextmanager
def _read_through(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[None]:
    """While the lock is held, database.read_only(db_path) in this process
    reads through the held connection: DuckDB refuses a read-only connection
    to a file this process has open read-write ("different configuration").
    Other files are opened as before."""
    original = database.read_only
    held = db_path.resolve()

    @contextlib.contextmanager
    def read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        if Path(path).resolve() != held:
            with original(path) as other:
                yield other
            return
        cursor = con.cursor()
        try:
            database.use_published_schemas(cursor)
            yield cursor
        finally:
            cursor.close()

    database.read_only = read_only  # type: ignore[assignment]
    try:
        yield
    finally:
        database.read_only = original  # type: ignore[assignment]


@contextlib.contextmanager
def writer_lock(
    db_path: Path, emit: Callable[[str], None] | None = None, wait: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Hold the database's write lock in this process until the block ends.

    dbt invocations and the CLI's own reads inside the block use the same
    database instance; another process that opens the file meanwhile is
    refused (DuckDB's lock error) and never sees a run half published. If
    another process holds the lock at the start, wait up to ``wait`` seconds
    (default :func:`lock_wait`), saying which process it is, then fail with
    database.lock_message. Nested use (run inside a larger command) holds the
    same lock.
    """
    con = _connect_writer(db_path, lock_wait() if wait is None else wait, emit)
    note = _leave_writer_note(db_path)
    try:
        with _read_through(con, db_path):
            yield con
    finally:
        con.close()
        if note is not None:
            note.unlink(missing_ok=True)


def _leave_writer_note(db_path: Path) -> Path | None:
    """Say beside the database which allocator command holds its lock
    (database.lock_message reads it); None when a holder up the stack of
    this process already said so, or the folder is not writable."""
    path = database.writer_note_path(db_path)
    held = database.writer_note(db_path)
    if held is not None and held.get("pid") == os.getpid():
        return None
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    note = {
        "pid": os.getpid(),
        "command": command[:160],
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        path.write_text(json.dumps(note), encoding="utf-8")
    except OSError:
        return None
    return path


# --------------------------------------------------------------------------
# Reading the published runs: the database, or its snapshots while it is locked
# --------------------------------------------------------------------------


@contextlib.contextmanager
def read_published(
    db_path: Path, reports_dir: Path, emit: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only view of the published runs: the database file, or, while
    another process holds its lock (a run is writing), the marts' Parquet
    snapshots in <reports>/marts/ as the schema ``marts`` of an in-memory
    database. ``emit`` is told which one is read. The snapshots hold the
    marts only (not the ``artifacts`` layers) as of the last published pass."""
    stack = contextlib.ExitStack()
    try:
        con = stack.enter_context(database.read_only(db_path))
    except DatabaseLocked as exc:
        con = stack.enter_context(_snapshot_connection(db_path, reports_dir, str(exc), emit))
    with stack:
        yield con


@contextlib.contextmanager
def _snapshot_connection(
    db_path: Path, reports_dir: Path, lock: str, emit: Callable[[str], None] | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    folder = snapshot_dir(reports_dir)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise DatabaseLocked(f"{lock}; and {folder} holds no Parquet snapshots to read instead")
    written = time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(max(f.stat().st_mtime for f in files))
    )
    if emit is not None:
        emit(
            f"{lock.split(' — ')[0]}: reading the Parquet snapshots in {folder} "
            f"(last written {written}) instead"
        )
    con = duckdb.connect()
    try:
        con.execute("create schema marts")
        for file in files:
            literal = str(file).replace("'", "''")
            con.execute(
                f"create view marts.{_quote(file.stem)} as select * from read_parquet('{literal}')"
            )
        database.use_published_schemas(con)
        yield con
    finally:
        con.close()


# --------------------------------------------------------------------------
# Parquet snapshots of the marts
# --------------------------------------------------------------------------


def snapshot_dir(reports_dir: Path) -> Path:
    return reports_dir / SNAPSHOT_DIR


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The published marts (schema marts), by name."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'marts' "
        "order by table_name"
    ).fetchall()
    return [row[0] for row in rows]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def write_snapshots(con: duckdb.DuckDBPyConnection, reports_dir: Path) -> list[Path]:
    """Write every marts.* table to <reports>/marts/<table>.parquet.

    Each file is written to a temporary name in the same folder and moved
    into place with os.replace, so a reader opens either the previous
    snapshot or the new one, never a partial file. All tables are read in
    one transaction, so the set is one published state. Snapshots of marts
    that no longer exist are left alone (a BI tool may still point at them).
    """
    folder = snapshot_dir(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    cursor = con.cursor()
    written: list[Path] = []
    try:
        cursor.execute("begin transaction")
        for table in mart_tables(cursor):
            target = folder / f"{table}.parquet"
            handle, temp_name = tempfile.mkstemp(
                prefix=f".{table}.", suffix=".parquet.tmp", dir=folder
            )
            os.close(handle)
            temp = Path(temp_name)
            try:
                path_literal = str(temp).replace("'", "''")
                cursor.execute(
                    f"copy (select * from marts.{_quote(table)}) to '{path_literal}' "
                    "(format parquet)"
                )
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
            written.append(target)
        cursor.execute("commit")
    finally:
        cursor.close()
    return written


def snapshot(
    db_path: Path,
    reports_dir: Path,
    emit: Callable[[str], None] | None = None,
) -> list[Path]:
    """`allocator snapshot`: write the marts' Parquet snapshots from the
    database file (taking its write lock for the moment it reads, so no run
    is publishing meanwhile)."""
    if not db_path.is_file():
        raise AllocatorError(
            f"database file {db_path} does not exist: run `allocator two-pass` or "
            "`dbt build` first, or set ALLOCATOR_DUCKDB_PATH to an existing file"
        )
    with writer_lock(db_path, emit) as con:
        try:
            written = write_snapshots(con, reports_dir)
        except OSError as exc:
            raise AllocatorError(
                f"cannot write the snapshots to {snapshot_dir(reports_dir)} "
                f"({exc.strerror or exc}): make it a writable folder (move a file of that name "
                "away), or choose another --reports-dir; the database is unchanged"
            ) from exc
    if emit is not None:
        emit(snapshot_line(written, reports_dir))
    return written


def snapshot_line(written: list[Path], reports_dir: Path) -> str:
    """The line the CLI prints after writing the snapshots."""
    folder = snapshot_dir(reports_dir)
    if not written:
        return f"snapshots: no marts published yet, nothing written to {folder}"
    return f"snapshots: {len(written)} marts as Parquet in {folder}"
