"""Benchmark of a live run's daily update (`allocator update`), whole process.

Cases (each: a live run built once with `allocator run --live` through the
second-to-last session of its data, then the one-session update timed
``--repeats`` times, each from a copy of the database as the start left it;
the cases' updates alternate, round by round, so they share the machine's
load, and the first round is an untimed warm-up):

* ``demo``: the bundled demo (20 symbols, 8,313 sessions, window 2005-01-03
  on), updated with the demo's own prices file (the whole history);
* ``synthetic``: a synthetic 2,000 x 5,000 market (python -m allocator.synthetic),
  updated with a file of its last 5 sessions (a desk's daily file);
* ``history``: synthetic 50-symbol markets of 1,000, 4,000 and 8,000
  sessions, each updated with its last 5 sessions: the update's time
  against the run's history.

Wall time and peak RSS are the update process's (os.wait4). Results go to
``--out`` (default benchmarks/live/results.json) and are printed as a table.

    .venv/bin/python benchmarks/live/run_live_benchmark.py                  # all cases
    .venv/bin/python benchmarks/live/run_live_benchmark.py --cases demo --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEMO_PRICES = ROOT / "data" / "demo" / "sp500_prices.parquet"
DEMO_START = "2005-01-03"
HISTORY_LENGTHS = (1000, 4000, 8000)
RUN_ID = "bench_live"
ALLOCATOR = str(BIN / "allocator")


def timed(command: Sequence[str], env: Mapping[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one process, and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=dict(env), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def sessions(path: Path) -> list[str]:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    rows = duckdb.sql(
        f"select distinct cast(date as date)::varchar from {reader}('{path}') order by 1"
    ).fetchall()
    return [row[0] for row in rows]


def last_sessions_file(source: Path, target: Path, count: int) -> Path:
    """The source's last ``count`` sessions: a desk's daily file."""
    dates = sessions(source)
    duckdb.sql(
        f"copy (select * from read_parquet('{source}') where cast(date as date) >= "
        f"'{dates[-count]}') to '{target}' (format parquet)"
    )
    return target


def synthetic(work: Path, symbols: int, days: int) -> tuple[Path, Path]:
    """A synthetic market (allocator.synthetic), written once."""
    from allocator.synthetic import write_market

    out = work / f"market_{symbols}x{days}"
    prices, index = out / "m_prices.parquet", out / "m_index.parquet"
    if not prices.exists():
        write_market(out, symbols, days, stem="m", with_regimes=False)
    return prices, index


@dataclass
class Case:
    """One live run to update: its database as the start left it, and its update."""

    name: str
    base: Path
    db: Path
    env: dict[str, str]
    update_args: Sequence[str]
    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    output: str = ""


def start_case(
    name: str, work: Path, start_args: Sequence[str], update_args: Sequence[str]
) -> Case:
    """Start the live run once (kept in ``started.duckdb`` for reruns)."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    db, base = folder / "live.duckdb", folder / "started.duckdb"
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db),
        "ALLOCATOR_REPORTS_DIR": str(folder / "reports"),
        # dbt's partial-parse cache per case: the staged input's path is in
        # the parse, so cases sharing a target would parse anew each update
        "DBT_TARGET_PATH": str(folder / "target"),
        "DO_NOT_TRACK": "1",
    }
    if not base.exists():
        for path in (db, db.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
        command = [ALLOCATOR, "run", "--live", "--run-id", RUN_ID, *start_args, "--no-tests"]
        seconds, peak, _ = timed(command, env)
        print(f"{name}: live run started in {seconds:.1f} s (peak {peak:.0f} MB)", flush=True)
        shutil.copyfile(db, base)
    return Case(name, base, db, env, update_args)


def update_once(case: Case, record: bool) -> None:
    """One one-session update, from a copy of the started database."""
    shutil.copyfile(case.base, case.db)
    case.db.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    command = [ALLOCATOR, "update", "--run-id", RUN_ID, *case.update_args]
    seconds, peak, case.output = timed(command, case.env)
    if record:
        case.walls.append(seconds)
        case.peaks.append(peak)


def measure(cases: Sequence[Case], repeats: int) -> list[dict[str, object]]:
    """Time the cases' updates in interleaved rounds, so that every case sees
    the same machine load; round 0 warms dbt's partial-parse cache."""
    for round_number in range(repeats + 1):
        for case in cases:
            update_once(case, record=round_number > 0)
    results = []
    for case in cases:
        summary = [line for line in case.output.splitlines() if RUN_ID + ":" in line]
        result = {
            "case": case.name,
            "median_seconds": round(statistics.median(case.walls), 2),
            "seconds": [round(w, 2) for w in case.walls],
            "peak_rss_mb": round(max(case.peaks)),
            "summary_line": summary[-1] if summary else "",
        }
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="demo,synthetic,history")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "live" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "live" / "results.json")
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    cases_to_time = []
    if "demo" in cases:
        dates = sessions(DEMO_PRICES)
        cases_to_time.append(
            start_case(
                "demo",
                args.work,
                ["--strategy-profile", "core_v1", "--start", DEMO_START, "--end", dates[-2]],
                ["--prices", str(DEMO_PRICES)],
            )
        )
    sizes = []
    if "synthetic" in cases:
        sizes.append(("synthetic_2000x5000", 2000, 5000))
    if "history" in cases:
        sizes += [(f"history_50x{days}", 50, days) for days in HISTORY_LENGTHS]
    for name, symbols, days in sizes:
        prices, index = synthetic(args.work, symbols, days)
        dates = sessions(prices)
        daily = last_sessions_file(prices, args.work / f"{name}_last5.parquet", 5)
        cases_to_time.append(
            start_case(
                name,
                args.work,
                [
                    "--strategy-profile",
                    "core_v1",
                    "--start",
                    dates[400],
                    "--end",
                    dates[-2],
                    "--prices",
                    str(prices),
                    "--benchmark",
                    str(index) if index.exists() else "none",
                ],
                ["--prices", str(daily)],
            )
        )
    timing_load = os.getloadavg()
    results = measure(cases_to_time, args.repeats)
    document = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "load_average_at_start": [round(x, 1) for x in load],
        "load_average_while_timing": [round(x, 1) for x in timing_load],
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "results": results,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{'case':<24}{'median s':>10}{'peak MB':>10}")
    for r in results:
        print(f"{r['case']:<24}{r['median_seconds']:>10}{r['peak_rss_mb']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
