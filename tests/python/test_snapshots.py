"""Safe reading (python/allocator/snapshots.py): the write lock held across a
command, and the marts' Parquet snapshots, on small hand-made databases."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from allocator import cli, database, snapshots
from allocator.errors import AllocatorError

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)

# a read-only open from another process: prints "open" or the error's first line
TRY_READ = textwrap.dedent(
    """
    import sys, duckdb
    try:
        con = duckdb.connect(sys.argv[1], read_only=True)
    except duckdb.Error as exc:
        print(str(exc).splitlines()[0])
    else:
        print("open", con.execute("select count(*) from marts.runs").fetchall()[0][0])
    """
)


def make_db(path: Path) -> Path:
    """Two marts (one with a date and a timestamp) and a table outside marts."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema artifacts")
        con.execute(
            "create table marts.runs as select 'r1' as run_id, date '2021-01-06' as start_date, "
            "timestamp '2026-12-01 10:00:00' as created_at, true as allocator_enabled"
        )
        con.execute(
            "create table marts.run_metrics as select * from "
            "(values ('r1', 0.1::double, 3::bigint)) as t(run_id, cagr, return_days)"
        )
        con.execute("create table artifacts.weights_scaled as select 'r1' as run_id")
    return path


def test_write_snapshots_writes_every_mart_with_its_types(tmp_path: Path) -> None:
    db = make_db(tmp_path / "a.duckdb")
    reports = tmp_path / "reports"
    with duckdb.connect(str(db)) as con:
        written = snapshots.write_snapshots(con, reports)
    assert written == [
        reports / "marts" / "run_metrics.parquet",
        reports / "marts" / "runs.parquet",
    ]
    assert sorted(p.name for p in (reports / "marts").iterdir()) == [
        "run_metrics.parquet",
        "runs.parquet",
    ]
    runs = duckdb.execute(f"select * from read_parquet('{reports / 'marts' / 'runs.parquet'}')")
    assert [d[0] for d in runs.description] == [
        "run_id",
        "start_date",
        "created_at",
        "allocator_enabled",
    ]
    assert runs.fetchall() == [("r1", dt.date(2021, 1, 6), dt.datetime(2026, 12, 1, 10), True)]
    types = duckdb.execute(
        f"describe select * from read_parquet('{reports / 'marts' / 'run_metrics.parquet'}')"
    ).fetchall()
    assert [(t[0], t[1]) for t in types] == [
        ("run_id", "VARCHAR"),
        ("cagr", "DOUBLE"),
        ("return_days", "BIGINT"),
    ]


def test_snapshots_are_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file is written beside its target under a temporary name and moved
    into place with os.replace; a reader holding the old file keeps it whole."""
    db = make_db(tmp_path / "a.duckdb")
    reports = tmp_path / "reports"
    with duckdb.connect(str(db)) as con:
        snapshots.write_snapshots(con, reports)
        target = reports / "marts" / "runs.parquet"
        old = target.open("rb")  # a reader in the middle of the old snapshot
        con.execute("insert into marts.runs select 'r2', date '2021-01-07', now(), false")
        moves: list[tuple[Path, Path]] = []
        real_replace = os.replace

        def recording_replace(src: str | Path, dst: str | Path) -> None:
            src, dst = Path(src), Path(dst)
            # complete before it is moved, in the same folder (a rename, not a copy)
            assert src.parent == dst.parent and src.name.startswith(".")
            assert duckdb.execute(f"select count(*) from read_parquet('{src}')").fetchall()
            moves.append((src, dst))
            real_replace(src, dst)

        monkeypatch.setattr(snapshots.os, "replace", recording_replace)
        snapshots.write_snapshots(con, reports)
    assert [dst.name for _, dst in moves] == ["run_metrics.parquet", "runs.parquet"]
    assert not [p for p in (reports / "marts").iterdir() if p.name.startswith(".")]
    new_runs = duckdb.execute(f"select count(*) from read_parquet('{target}')").fetchall()
    assert new_runs == [(2,)]
    old_copy = tmp_path / "old.parquet"
    old_copy.write_bytes(old.read())
    old.close()
    assert duckdb.execute(f"select count(*) from read_parquet('{old_copy}')").fetchall() == [(1,)]


def test_a_failed_snapshot_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_db(tmp_path / "a.duckdb")
    reports = tmp_path / "reports"
    with duckdb.connect(str(db)) as con:
        snapshots.write_snapshots(con, reports)
        before = (reports / "marts" / "runs.parquet").read_bytes()

        def failing_replace(src: str | Path, dst: str | Path) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(snapshots.os, "replace", failing_replace)
        with pytest.raises(OSError, match="disk full"):
            snapshots.write_snapshots(con, reports)
    assert (reports / "marts" / "runs.parquet").read_bytes() == before
    assert sorted(p.name for p in (reports / "marts").iterdir()) == [
        "run_metrics.parquet",
        "runs.parquet",
    ]


def test_writer_lock_keeps_other_processes_out_and_reads_in_process(tmp_path: Path) -> None:
    db = make_db(tmp_path / "a.duckdb")
    original = database.read_only

    def other_process_reads() -> str:
        return subprocess.run(
            [sys.executable, "-c", TRY_READ, str(db)], capture_output=True, text=True, timeout=60
        ).stdout.strip()

    with snapshots.writer_lock(db) as con:
        assert "lock" in other_process_reads().lower()
        # this process: a second read-write connection (dbt's) joins the same
        # database, and database.read_only reads through the held one
        database.check_writable(db)
        with database.read_only(db) as reader:
            assert database.known_run_ids(reader) == ["r1"]
        con.execute("insert into marts.runs select 'r2', date '2021-01-07', now(), false")
        # another file is opened as before
        other = make_db(tmp_path / "b.duckdb")
        with database.read_only(other) as reader:
            assert database.known_run_ids(reader) == ["r1"]
    assert database.read_only is original
    assert other_process_reads() == "open 2"


def test_writer_lock_waits_for_a_holder_and_names_it(tmp_path: Path) -> None:
    db = make_db(tmp_path / "a.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db), "1.5"], stdout=subprocess.PIPE, text=True
    )
    messages: list[str] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with snapshots.writer_lock(db, messages.append, wait=60) as con:
            assert con.execute("select count(*) from marts.runs").fetchall() == [(1,)]
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()
    # said once, naming the holder, while it waited
    assert len(messages) == 1
    assert messages[0].startswith(
        f"database file {db} is locked by another process (pid {holder.pid}, "
    )
    assert messages[0].endswith("): waiting up to 60 s for it ...")


def test_writer_lock_gives_up_with_the_lock_message(tmp_path: Path) -> None:
    db = make_db(tmp_path / "a.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db), "60"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(AllocatorError) as raised, snapshots.writer_lock(db, wait=0.5):
            pass
    finally:
        holder.kill()
        holder.wait()
    text = str(raised.value)
    assert f"database file {db} is locked by another process (pid {holder.pid}" in text
    assert "set ALLOCATOR_DUCKDB_PATH to another file (waited 0.5 s for it)" in text


def test_lock_wait_from_the_environment() -> None:
    assert snapshots.lock_wait({}) == snapshots.DEFAULT_LOCK_WAIT
    assert snapshots.lock_wait({"ALLOCATOR_LOCK_WAIT": "12.5"}) == 12.5
    assert snapshots.lock_wait({"ALLOCATOR_LOCK_WAIT": "-1"}) == 0.0
    with pytest.raises(AllocatorError, match="ALLOCATOR_LOCK_WAIT='soon' is not a number"):
        snapshots.lock_wait({"ALLOCATOR_LOCK_WAIT": "soon"})


def test_snapshot_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.duckdb"
    reports = tmp_path / "reports"
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(db))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(reports))
    assert cli.main(["snapshot"]) == 1
    err = capsys.readouterr().err
    assert f"allocator snapshot: error: database file {db} does not exist" in err
    assert not db.exists()
    make_db(db)
    assert cli.main(["snapshot"]) == 0
    out = capsys.readouterr().out
    assert out == f"snapshots: 2 marts as Parquet in {reports / 'marts'}\n"
    assert (reports / "marts" / "runs.parquet").is_file()
