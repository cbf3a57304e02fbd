"""Safe reading while a run writes (issue 14): a reader process polls the
database file (read-only) and the Parquet snapshots throughout a two-pass of
the tiny book; the two-pass succeeds and the reader sees only whole states.

The CLI runs in a subprocess, as a user runs it, on its own database and
reports folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from tests.conftest import FIXTURE_INPUTS, PROJECT_DIR

ALLOCATOR = Path(sys.executable).with_name("allocator")
PROFILE = "core_v1"
BASE = "tiny_safe_base"
SCALED = "tiny_safe_scaled"

# One observation per line of JSON: a read-only open of the database file
# (refused while the CLI holds the lock) and a read of every Parquet snapshot.
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb

    db, marts, out, stop = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])

    def read_db():
        if not db.exists():
            return {"kind": "db", "state": "missing"}
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.Error as exc:
            return {"kind": "db", "state": "refused", "error": str(exc).splitlines()[0]}
        try:
            schemas = {r[0] for r in con.sql(
                "select schema_name from information_schema.schemata").fetchall()}
            if "marts" not in schemas:
                return {"kind": "db", "state": "open", "runs": [], "pairs": None}
            tables = {r[0] for r in con.sql(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts'").fetchall()}
            runs = sorted(r[0] for r in con.sql("select run_id from marts.runs").fetchall())
            pairs = (con.execute("select count(*) from marts.two_pass_pairs").fetchall()[0][0]
                     if "two_pass_pairs" in tables else None)
            return {"kind": "db", "state": "open", "runs": runs, "pairs": pairs}
        finally:
            con.close()

    def read_parquet():
        files = sorted(marts.glob("*.parquet"))
        if not files:
            return {"kind": "parquet", "state": "none"}
        try:
            rows = {p.stem: duckdb.execute(
                f"select count(*) from read_parquet('{p}')").fetchall()[0][0] for p in files}
            runs = sorted(r[0] for r in duckdb.sql(
                f"select run_id from read_parquet('{marts / 'runs.parquet'}')").fetchall())
        except duckdb.Error as exc:
            return {"kind": "parquet", "state": "error", "error": str(exc).splitlines()[0]}
        return {"kind": "parquet", "state": "read", "tables": sorted(rows), "runs": runs}

    with open(out, "w") as handle:
        print("reading", flush=True)
        while not stop.exists():
            for observation in (read_db(), read_parquet()):
                observation["t"] = time.time()
                handle.write(json.dumps(observation) + "\\n")
            handle.flush()
            time.sleep(0.02)
        # one last look after the run
        for observation in (read_db(), read_parquet()):
            observation["t"] = time.time()
            handle.write(json.dumps(observation) + "\\n")
    """
)


def test_reader_during_two_pass_never_sees_a_half_built_state(tmp_path: Path) -> None:
    db = tmp_path / "safe.duckdb"
    reports = tmp_path / "reports"
    marts = reports / "marts"
    log = tmp_path / "observations.jsonl"
    stop = tmp_path / "stop"
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db),
        "ALLOCATOR_REPORTS_DIR": str(reports),
        "DO_NOT_TRACK": "1",
        # a reader that holds the file for a moment when the CLI starts is waited for
        "ALLOCATOR_LOCK_WAIT": "30",
    }
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), str(marts), str(log), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
        started = time.time()
        cli = subprocess.run(
            [
                str(ALLOCATOR),
                "two-pass",
                "--strategy-profile",
                PROFILE,
                "--start",
                "2021-01-06",
                "--end",
                "2021-01-11",
                "--prices",
                str(FIXTURE_INPUTS / "tiny_prices.csv"),
                "--weights",
                str(FIXTURE_INPUTS / "tiny_weights.csv"),
                "--benchmark",
                "none",
                "--scaled-run-id",
                SCALED,
                "--no-tests",
            ],
            cwd=tmp_path,
            env={**env, "ALLOCATOR_PROJECT_DIR": str(PROJECT_DIR)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        finished = time.time()
    finally:
        stop.touch()
        reader.wait(timeout=60)
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    assert "Traceback" not in cli.stderr
    # pass 1 publishes the baseline's marts, pass 2 the two-pass marts too
    snapshot_lines = [line for line in cli.stdout.splitlines() if line.startswith("snapshots:")]
    # the published marts: models/marts and the live runs' (models/live)
    every_mart = sorted(
        path.stem
        for folder in ("marts", "live")
        for path in (PROJECT_DIR / "models" / folder).glob("*.sql")
        if folder == "marts" or path.stem in ("live_runs", "next_session_targets")
    )
    baseline_marts = [name for name in every_mart if not name.startswith("two_pass_")]
    assert snapshot_lines == [
        f"snapshots: {len(baseline_marts)} marts as Parquet in {marts}",
        f"snapshots: {len(every_mart)} marts as Parquet in {marts}",
    ]

    observations = [json.loads(line) for line in log.read_text().splitlines()]
    db_seen = [o for o in observations if o["kind"] == "db"]
    parquet_seen = [o for o in observations if o["kind"] == "parquet"]
    during = [o for o in db_seen if started < o["t"] < finished]
    baseline_run = next(
        line.split("run_id=")[1].split()[0]
        for line in cli.stdout.splitlines()
        if line.startswith("pass 1/2 (baseline): dbt build") and "run_id=" in line
    )
    both = sorted([baseline_run, SCALED])

    # The reader polled all along: the file did not exist until the CLI took
    # the lock, was refused from then until the CLI released it after the
    # comparison (it exits a moment later), and was open after that. An open
    # between two refusals would be a reader in between the passes.
    assert during, "the reader made no attempt while the two-pass ran"
    states = [o["state"] for o in db_seen]
    phases = [state for i, state in enumerate(states) if i == 0 or state != states[i - 1]]
    assert phases in (["missing", "refused", "open"], ["refused", "open"]), phases
    refused = {o["error"] for o in db_seen if o["state"] == "refused"}
    assert all("lock" in error.lower() for error in refused), refused
    # every state it could open is whole: nothing yet, or both runs and their pair
    opened = [o for o in db_seen if o["state"] == "open"]
    assert opened and opened[-1]["runs"] == both and opened[-1]["pairs"] == 1
    assert all(o["runs"] == both and o["pairs"] == 1 for o in opened if o["runs"]), opened

    # the snapshots: never a partial file, first the baseline, then both runs
    assert not [o for o in parquet_seen if o["state"] == "error"]
    read = [o for o in parquet_seen if o["state"] == "read"]
    assert {tuple(o["runs"]) for o in read} <= {(baseline_run,), tuple(both)}
    assert read[-1]["runs"] == both and len(read[-1]["tables"]) == len(every_mart)
    assert any(o["runs"] == [baseline_run] for o in read), "no reader saw the pass-1 snapshot"
    assert not list(marts.glob(".*.tmp")), "a temporary snapshot file was left behind"

    # the final snapshots are the database's marts
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("runs", "run_metrics", "two_pass_metrics", "two_pass_flags"):
            stored = con.sql(f"select * from marts.{table} order by all").fetchall()
            snap = con.sql(f"select * from read_parquet('{marts / table}.parquet') order by all")
            assert snap.fetchall() == stored, table
