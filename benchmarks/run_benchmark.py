#!/usr/bin/env python3
"""Scale benchmark of the Allocator v1 pipeline (dbt-core + dbt-duckdb + DuckDB).

    python benchmarks/run_benchmark.py \
        [--sizes demo,100x8000,500x8000,2000x5000] \
        [--cases baseline,two-pass,two-pass-reuse] \
        [--out benchmarks/results] [--seed 5]

For every size the market is generated once (``demo`` = the bundled
data/demo/*.parquet; ``NxT`` = ``allocator.synthetic`` with N symbols and T
business days). Every case then runs on a FRESH DuckDB file with its own
target/log folders, driving dbt itself (no dependency on the allocator CLI):

baseline        one ``dbt build`` (allocator off): the user's path for one run.
two-pass        two ``dbt build`` processes: the baseline, then the scaled run
                with ``allocator_v1: {enabled: true, mode: precomputed,
                precomputed_run_id: base}``; the second builds the two_pass_*
                comparison marts. What a user driving dbt by hand does.
two-pass-reuse  the same audit run by the ``allocator two-pass`` code itself
                (``allocator.workflow.two_pass`` in one Python process): dbt's
                programmatic runner parses once and both builds reuse that
                manifest; pass 1 skips the comparison marts; pass 2 copies the
                baseline's unscaled layers (var reuse_baseline_layers) and
                builds only what the scalars change; the CSV/JSON exports and
                the HTML report are included.

Measured per dbt process: wall time and peak resident memory (``ru_maxrss``
of that child from ``os.wait4``), the phases of its dbt log (process start and
imports, parse, DAG setup, nodes, teardown), per-stage node seconds from
``run_results.json`` and the DuckDB file size. Separately ("staged" mode) the
audit is rebuilt stage by stage (``dbt build -s <the stage's nodes>``, one
process per stage) on another fresh file so each stage gets its own peak RSS;
that adds dbt's startup and (partial) parse to every stage.

Raw records (every node's seconds) go to ``<work>/results/<timestamp>-<size>.json``;
their slim form (the ten slowest nodes per case) is added to
``<out>/summary.json``, and ``RESULTS.md`` (next to this script unless --table
is given) is regenerated from it.
Only the standard library, duckdb and pandas (plus the dbt being measured and
the project's own ``allocator.synthetic``) are used.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "results"
DEFAULT_TABLE = BENCH_DIR / "RESULTS.md"
DEFAULT_WORK = Path("/tmp/allocator-bench")

STAGES = ("staging", "strategy", "execution", "allocator", "marts", "comparison")
STAGE_ORDER = {stage: i for i, stage in enumerate(STAGES)}
OTHER = "other"
DEFAULT_SIZES = ("demo", "100x8000", "500x8000", "2000x5000")
CASES = ("baseline", "two-pass", "two-pass-reuse")
TWO_PASS_CASES = ("two-pass", "two-pass-reuse")

# The demo run's window (dbt_project.yml vars start/end) and bundled inputs.
DEMO_START = "2005-01-03"
DEMO_END = "2022-12-28"
DEMO_PRICES = Path("data/demo/sp500_prices.parquet")
DEMO_BENCHMARK = Path("data/demo/sp500_index.parquet")
# Synthetic sizes record from this business day on; the days before warm the
# signals up (they need ~1.3 years).
WARMUP_DAYS = 400

BASE_RUN_ID = "bench_base"
SCALED_RUN_ID = "bench_scaled"
# Issue targets: (size, limit on two-pass wall seconds, limit on peak RSS MB).
TARGETS = {
    "demo": (10.0, None),
    "500x8000": (60.0, 4096.0),
    "2000x5000": (None, None),  # must complete
}

NOTES_START = "<!-- notes:start (hand-written; kept when the tables are regenerated) -->"
NOTES_END = "<!-- notes:end -->"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Size:
    name: str
    n_symbols: int | None = None  # None: the bundled demo data
    n_days: int | None = None

    @property
    def synthetic(self) -> bool:
        return self.n_symbols is not None


def parse_size(text: str) -> Size:
    """``demo`` or ``<symbols>x<days>``, e.g. ``500x8000``."""
    text = text.strip().lower()
    if text == "demo":
        return Size("demo")
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise ValueError(f"size {text!r} is not 'demo' or <symbols>x<days> like 500x8000")
    n_symbols, n_days = int(match[1]), int(match[2])
    if n_days <= WARMUP_DAYS + 60:
        raise ValueError(f"size {text}: need more than {WARMUP_DAYS + 60} days (warm-up)")
    return Size(text, n_symbols, n_days)


def parse_list(text: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if allowed is not None:
        bad = [item for item in items if item not in allowed]
        if bad:
            raise ValueError(f"unknown {bad}; choose from {', '.join(allowed)}")
    return items


# --------------------------------------------------------------------------- stage attribution


def model_stage(original_file_path: str, name: str) -> str:
    """Stage of a model or seed from its file: models/<stage>/..., seeds -> staging,
    marts two_pass_* -> comparison, other marts -> marts (reporting)."""
    parts = Path(original_file_path).parts
    if parts and parts[0] == "seeds":
        return "staging"
    if len(parts) >= 3 and parts[0] == "models":
        folder = parts[1]
        if folder == "marts":
            return "comparison" if name.startswith("two_pass") else "marts"
        if folder in STAGE_ORDER:
            return folder
    return OTHER


def _latest_stage(stages: Iterable[str]) -> str:
    known = [stage for stage in stages if stage in STAGE_ORDER]
    return max(known, key=STAGE_ORDER.__getitem__) if known else OTHER


def stage_map(manifest: Mapping[str, Any]) -> dict[str, str]:
    """unique_id -> stage for every model, seed, data test and unit test.

    A test belongs to the model it is attached to; a test on several models
    (singular tests) or a unit test to the latest stage among its parents.
    """
    stages: dict[str, str] = {}
    nodes = manifest.get("nodes", {})
    for uid, node in nodes.items():
        if node.get("resource_type") in ("model", "seed", "snapshot"):
            stages[uid] = model_stage(node.get("original_file_path", ""), node.get("name", ""))

    def from_parents(node: Mapping[str, Any]) -> str:
        attached = node.get("attached_node")
        if attached in stages:
            return stages[attached]
        parents = (node.get("depends_on") or {}).get("nodes") or []
        return _latest_stage(stages.get(parent, OTHER) for parent in parents)

    for uid, node in nodes.items():
        if node.get("resource_type") == "test":
            stages[uid] = from_parents(node)
    for uid, node in (manifest.get("unit_tests") or {}).items():
        stages[uid] = from_parents(node)
    return stages


def node_kind(unique_id: str) -> str:
    """model / seed / test / unit_test from a unique_id."""
    return unique_id.split(".", 1)[0]


def node_name(unique_id: str) -> str:
    """The node's name: what `dbt build -s` selects a model or seed by."""
    return unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id


def display_name(unique_id: str) -> str:
    """Readable node label: unit tests keep their test name, data tests lose the hash."""
    parts = unique_id.split(".")
    if parts[0] == "unit_test" and len(parts) >= 4:
        return f"{parts[2]}:{parts[3]}"
    return node_name(unique_id)


def _timing_seconds(result: Mapping[str, Any], name: str) -> float:
    for timing in result.get("timing") or []:
        if timing.get("name") == name and timing.get("started_at") and timing.get("completed_at"):
            start = dt.datetime.fromisoformat(timing["started_at"].replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
            return max((end - start).total_seconds(), 0.0)
    return 0.0


def summarize_run_results(run_results: Mapping[str, Any], stages: Mapping[str, str]) -> dict:
    """Per-stage node seconds (tests included in their model's stage), test
    seconds, compile seconds and the per-node list from a run_results.json."""
    stage_seconds = {stage: 0.0 for stage in STAGES}
    test_seconds = {stage: 0.0 for stage in STAGES}
    kind_seconds: dict[str, float] = {}
    statuses: dict[str, int] = {}
    nodes = []
    compile_total = 0.0
    for result in run_results.get("results") or []:
        uid = result["unique_id"]
        seconds = float(result.get("execution_time") or 0.0)
        stage = stages.get(uid, OTHER)
        kind = node_kind(uid)
        stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
        kind_seconds[kind] = kind_seconds.get(kind, 0.0) + seconds
        if kind in ("test", "unit_test"):
            test_seconds[stage] = test_seconds.get(stage, 0.0) + seconds
        compile_seconds = _timing_seconds(result, "compile")
        compile_total += compile_seconds
        status = str(result.get("status"))
        statuses[status] = statuses.get(status, 0) + 1
        nodes.append(
            {
                "id": uid,
                "stage": stage,
                "kind": kind,
                "seconds": round(seconds, 4),
                "compile_seconds": round(compile_seconds, 4),
                "status": status,
            }
        )
    return {
        "stage_seconds": {k: round(v, 4) for k, v in stage_seconds.items()},
        "test_seconds": {k: round(v, 4) for k, v in test_seconds.items()},
        "kind_seconds": {k: round(v, 4) for k, v in sorted(kind_seconds.items())},
        "node_seconds": round(sum(node["seconds"] for node in nodes), 4),
        "compile_seconds": round(compile_total, 4),
        "status_counts": statuses,
        "dbt_elapsed": run_results.get("elapsed_time"),
        "nodes": nodes,
    }


# --------------------------------------------------------------------------- dbt log phases

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_LINE = re.compile(
    r"^(\d{2}):(\d{2}):(\d{2})\.(\d{1,6})\s+\[\s*(\w+)\s*\]\s+\[[^\]]*\]:\s?(.*)$"
)


def _log_events(text: str) -> list[tuple[float, str]]:
    events = []
    for raw in text.splitlines():
        match = _LOG_LINE.match(_ANSI.sub("", raw))
        if match:
            hh, mm, ss, frac = match.group(1, 2, 3, 4)
            seconds = int(hh) * 3600 + int(mm) * 60 + int(ss) + float("0." + frac)
            events.append((seconds, match.group(6)))
    return events


def _seconds_of_day(epoch: float) -> float:
    moment = dt.datetime.fromtimestamp(epoch)
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


def _since(ref: float, t: float) -> float:
    """t - ref on a clock that wraps at midnight."""
    delta = t - ref
    if delta < -43200:
        delta += 86400
    return delta


_NODE_START = re.compile(r"^(\d+) of \d+ START (.*?)\s*\.{2,}")
_NODE_DONE = re.compile(r"^(\d+) of \d+ (OK|PASS|FAIL|WARN|ERROR|SKIP|NO-OP)\b")


def log_phases(log_text: str, started_epoch: float, ended_epoch: float) -> dict:
    """Split one dbt invocation's wall time using its file log (local-time stamps):

    startup   process start to 'Running with dbt' (interpreter, dbt imports)
    parse     to 'Found N models' (adapter, project load, (partial) parse, manifest write)
    setup     to the first node (catalog/schema queries)
    nodes     first node to 'Finished running'
    teardown  to process exit (artifacts, connection close)

    Works with the info-level file log (the project's default) and the debug
    one. Only the last invocation in the log counts. Missing markers give None.
    """
    events = _log_events(log_text)
    starts = [i for i, (_, msg) in enumerate(events) if msg.startswith("Running with dbt")]
    if starts:
        events = events[starts[-1] :]
    t0 = _seconds_of_day(started_epoch)

    def first(predicate) -> float | None:
        for t, msg in events:
            if predicate(msg):
                return _since(t0, t)
        return None

    running = first(lambda m: m.startswith("Running with dbt"))
    found = first(lambda m: re.match(r"Found \d+ ", m) is not None)
    command_end = first(
        lambda m: m.startswith(("Performance info", "Command end result", "Resource report"))
    )
    first_node = first(
        lambda m: m.startswith("Began running node") or _NODE_START.match(m) is not None
    )
    finished = first(lambda m: m.startswith("Finished running ") and " in " in m)
    end = ended_epoch - started_epoch
    partial = [m for _, m in events if "partial pars" in m.lower() and "Partial parsing: " not in m]
    began = [
        m.split("Began running node ", 1)[1]
        for _, m in events
        if m.startswith("Began running node")
    ]
    done = {
        m.split("Finished running node ", 1)[1]
        for _, m in events
        if m.startswith("Finished running node")
    }
    unfinished = [uid for uid in began if uid not in done]
    if not began:  # info-level log: "3 of 90 START ..." / "3 of 90 OK ..."
        started_nodes = {}
        for _, m in events:
            match = _NODE_START.match(m)
            if match:
                started_nodes[match[1]] = match[2].strip()
        finished_nodes = {match[1] for _, m in events if (match := _NODE_DONE.match(m))}
        unfinished = [name for i, name in started_nodes.items() if i not in finished_nodes]
    if not partial and (found is not None or command_end is not None):
        # dbt logs a successful partial parse only at debug level
        partial = ["no full-parse notice: partial parse"]

    def span(a: float | None, b: float | None) -> float | None:
        return round(b - a, 3) if a is not None and b is not None else None

    return {
        "startup_s": span(0.0, running),
        # `dbt parse` logs no 'Found N models': its parse runs to the command's end
        "parse_s": span(running, found if found is not None else command_end),
        "setup_s": span(found, first_node),
        "nodes_s": span(first_node, finished),
        "teardown_s": span(finished, end),
        "partial_parse": partial[0] if partial else None,
        "unfinished_node": unfinished[-1] if unfinished else None,
    }


# --------------------------------------------------------------------------- processes


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def harness_peak_rss_mb() -> float:
    """This process's peak RSS: a lower bound of every child's ru_maxrss."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_process(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout_path: Path, timeout: float
) -> dict:
    """Run a child, wait with os.wait4 and return its wall time and ru_maxrss (KB on Linux)."""
    load_before = loadavg()
    floor_mb = harness_peak_rss_mb()
    started = time.time()
    t0 = time.perf_counter()
    timed_out = threading.Event()
    with open(stdout_path, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {
        "argv": [str(a) for a in argv],
        "returncode": proc.returncode,
        "timed_out": timed_out.is_set(),
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # the child's ru_maxrss can never be below the harness's own peak at spawn
        "rss_floor_mb": floor_mb,
        "user_s": round(usage.ru_utime, 2),
        "sys_s": round(usage.ru_stime, 2),
        "started_epoch": started,
        "ended_epoch": started + wall,
        "load_before": load_before,
        "load_after": loadavg(),
    }


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def db_size_mb(db: Path) -> float:
    total = sum(p.stat().st_size for p in (db, db.with_name(db.name + ".wal")) if p.exists())
    return round(total / 2**20, 1)


def wait_for_quiet(max_load: float, max_wait: float, poll: float = 20.0) -> dict:
    """Wait (up to max_wait s) until the 1-minute load average is <= max_load."""
    t0 = time.time()
    load = loadavg()
    while load[0] > max_load and time.time() - t0 < max_wait:
        log(f"load {load[0]} > {max_load}: waiting ({time.time() - t0:.0f}/{max_wait:.0f} s)")
        time.sleep(poll)
        load = loadavg()
    return {"waited_s": round(time.time() - t0, 1), "load": load, "quiet": load[0] <= max_load}


# --------------------------------------------------------------------------- markets


@dataclass
class Market:
    size: str
    prices_path: str
    benchmark_path: str
    start: str
    end: str
    n_symbols: int
    n_days: int
    first_date: str
    last_date: str
    rows: int
    file_mb: float
    generate_s: float | None
    seed: int | None


_DESCRIBE = """
import json, sys, duckdb
con = duckdb.connect()
path = sys.argv[1]
n_symbols, n_days, rows = con.execute(
    "select count(distinct symbol), count(distinct date), count(*) from read_parquet(?)", [path]
).fetchone()
dates = [str(d) for (d,) in con.execute(
    "select distinct cast(date as date) as d from read_parquet(?) order by d", [path]
).fetchall()]
print(json.dumps([n_symbols, n_days, dates, rows]))
"""


def _python(code_or_args: Sequence[str]) -> str:
    """Run the project's Python in a subprocess and return its stdout.

    Heavy work (DuckDB, numpy, pandas) stays out of the harness process on
    purpose: Linux counts the parent's peak RSS at exec into a child's
    ru_maxrss, so a fat harness would raise every dbt process's measured peak.
    """
    done = subprocess.run(
        [sys.executable, *code_or_args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{code_or_args[:2]} failed: {done.stderr[-2000:]}")
    return done.stdout


def _describe_prices(prices: Path) -> tuple[int, int, list[str], int]:
    n_symbols, n_days, dates, rows = json.loads(_python(["-c", _DESCRIBE, str(prices)]))
    return int(n_symbols), int(n_days), dates, int(rows)


def prepare_market(size: Size, project_dir: Path, work: Path, seed: int) -> Market:
    """The size's input files: the bundled demo or a synthetic market (generated
    once per size and seed, reused when already in the work folder)."""
    generate_s = None
    if not size.synthetic:
        prices, benchmark = project_dir / DEMO_PRICES, project_dir / DEMO_BENCHMARK
    else:
        folder = work / "markets" / f"{size.name}-seed{seed}"
        prices = folder / "synthetic_prices.parquet"
        benchmark = folder / "synthetic_index.parquet"
        done = folder / ".complete"
        if not done.exists():
            log(f"{size.name}: generating synthetic market (seed {seed}) in {folder}")
            t0 = time.perf_counter()
            _python(
                [
                    "-m",
                    "allocator.synthetic",
                    "--symbols",
                    str(size.n_symbols),
                    "--days",
                    str(size.n_days),
                    "--seed",
                    str(seed),
                    "--out",
                    str(folder),
                ]
            )
            generate_s = round(time.perf_counter() - t0, 2)
            done.write_text(json.dumps({"generate_s": generate_s}))
        else:
            generate_s = json.loads(done.read_text()).get("generate_s")
    n_symbols, n_days, dates, rows = _describe_prices(prices)
    if size.synthetic:
        start, end = dates[min(WARMUP_DAYS, len(dates) - 1)], dates[-1]
    else:
        start, end = DEMO_START, DEMO_END
    return Market(
        size=size.name,
        prices_path=str(prices),
        benchmark_path=str(benchmark),
        start=start,
        end=end,
        n_symbols=n_symbols,
        n_days=n_days,
        first_date=dates[0],
        last_date=dates[-1],
        rows=rows,
        file_mb=round(prices.stat().st_size / 2**20, 2),
        generate_s=generate_s,
        seed=seed if size.synthetic else None,
    )


def run_vars(market: Market, run_id: str, precomputed_run_id: str | None = None) -> dict:
    """--vars of one run: baseline (allocator off) or scaled (precomputed)."""
    allocator_v1: dict[str, Any] = {"enabled": False, "mode": "off"}
    if precomputed_run_id:
        allocator_v1 = {
            "enabled": True,
            "mode": "precomputed",
            "precomputed_run_id": precomputed_run_id,
        }
    return {
        "run_id": run_id,
        "prices_path": market.prices_path,
        "benchmark_path": market.benchmark_path,
        "start": market.start,
        "end": market.end,
        "allocator_v1": allocator_v1,
    }


# --------------------------------------------------------------------------- running cases


class Bench:
    """Runs the dbt processes of one size and turns them into records."""

    def __init__(self, args: argparse.Namespace, market: Market, size_dir: Path) -> None:
        self.args = args
        self.market = market
        self.size_dir = size_dir
        self.project_dir: Path = args.project_dir
        self._stages: dict[str, str] | None = None

    # -- plumbing

    def env(self, db: Path) -> dict[str, str]:
        return {
            **os.environ,
            "ALLOCATOR_DUCKDB_PATH": str(db),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
        }

    def fresh_dir(self, name: str) -> Path:
        folder = self.size_dir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def dbt(self, case_dir: Path, label: str, command: Sequence[str], dbt_vars: Mapping) -> dict:
        """One dbt process: the case's db and target folder, its own log folder."""
        inv_dir = case_dir / label
        inv_dir.mkdir(parents=True, exist_ok=True)
        target = case_dir / "target"
        db = case_dir / "bench.duckdb"
        if command[0] == "build":
            command = [*command, *self.args.build_args]
        argv = [
            str(self.args.dbt),
            *command,
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.project_dir),
            "--target-path",
            str(target),
            "--log-path",
            str(inv_dir / "logs"),
            "--vars",
            json.dumps(dict(dbt_vars), sort_keys=True),
        ]
        stdout = inv_dir / "stdout.txt"
        record = run_process(
            argv,
            cwd=self.project_dir,
            env=self.env(db),
            stdout_path=stdout,
            timeout=self.args.timeout,
        )
        record["label"] = label
        self._attach_artifacts(record, target, inv_dir, stdout)
        record["db_mb"] = db_size_mb(db)
        status = "ok" if record["returncode"] == 0 else f"FAILED rc={record['returncode']}"
        log(
            f"  {label}: {status} {record['wall_s']:.1f} s, {record['peak_rss_mb']:.0f} MB, "
            f"load {record['load_before'][0]}->{record['load_after'][0]}"
        )
        return record

    def _attach_artifacts(self, record: dict, target: Path, inv_dir: Path, stdout: Path) -> None:
        log_file = inv_dir / "logs" / "dbt.log"
        log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
        record["phases"] = log_phases(log_text, record["started_epoch"], record["ended_epoch"])
        results_path = target / "run_results.json"
        manifest_path = target / "manifest.json"
        if manifest_path.exists() and manifest_path.stat().st_mtime >= record["started_epoch"]:
            self._stages = stage_map(json.loads(manifest_path.read_text()))
        if results_path.exists() and results_path.stat().st_mtime >= record["started_epoch"]:
            shutil.copy(results_path, inv_dir / "run_results.json")
            run_results = json.loads(results_path.read_text())
            record["results"] = summarize_run_results(run_results, self._stages or {})
        if record["returncode"] != 0:
            record["stdout_tail"] = tail(stdout)
            failed = [
                n["id"]
                for n in (record.get("results") or {}).get("nodes", [])
                if n["status"] in ("error", "fail", "runtime error")
            ]
            record["failed_nodes"] = failed or (
                [record["phases"]["unfinished_node"]] if record["phases"]["unfinished_node"] else []
            )

    def stages(self) -> dict[str, str]:
        """The stage map (from the last manifest, or a dbt parse if none yet)."""
        if self._stages is None:
            case_dir = self.fresh_dir("parse")
            self.dbt(case_dir, "01-parse", ["parse"], run_vars(self.market, BASE_RUN_ID))
        if self._stages is None:
            raise RuntimeError("dbt parse wrote no manifest; see " + str(self.size_dir / "parse"))
        return self._stages

    def quiet(self) -> dict:
        return wait_for_quiet(self.args.max_load, self.args.max_wait)

    # -- cases

    def case(self, name: str) -> dict:
        quiet = self.quiet()
        log(f"{self.market.size} / {name} (load {quiet['load']})")
        case_dir = self.fresh_dir(name)
        base = run_vars(self.market, BASE_RUN_ID)
        scaled = run_vars(self.market, SCALED_RUN_ID, precomputed_run_id=BASE_RUN_ID)
        if name == "baseline":
            invocations = [self.dbt(case_dir, "1-baseline", ["build"], base)]
        elif name == "two-pass":
            invocations = [self.dbt(case_dir, "1-baseline", ["build"], base)]
            if invocations[0]["returncode"] == 0:
                invocations.append(self.dbt(case_dir, "2-scaled", ["build"], scaled))
        elif name == "two-pass-reuse":
            # Untimed: leaves dbt's partial-parse cache for the CLI's parse vars
            # in the case's target folder, as any earlier audit would; the cold
            # parse is recorded beside the case.
            warmup = self.dbt(case_dir, "0-warmup-parse", ["parse"], self.cli_inputs())
            invocations = self.inproc_two_pass(case_dir)
        else:
            raise ValueError(name)
        record = combine(invocations)
        record.update(case=name, pre_wait=quiet, db_mb=db_size_mb(case_dir / "bench.duckdb"))
        if name == "two-pass-reuse":
            record["warmup_parse"] = warmup
            record["selection_source"] = invocations[-1].get("selection_source")
        self.cleanup(case_dir)
        return record

    def cli_inputs(self) -> dict[str, str]:
        """The input-file vars the CLI gets for this market (none for the
        bundled data: the project's defaults)."""
        if self.market.seed is None:  # the bundled demo data
            return {}
        return {
            "prices_path": self.market.prices_path,
            "benchmark_path": self.market.benchmark_path,
        }

    def inproc_two_pass(self, case_dir: Path) -> list[dict]:
        """The audit exactly as ``allocator two-pass`` runs it: the CLI's own
        ``workflow.two_pass`` in one Python process (parse once, both builds
        reuse the manifest, pass 2 copies the baseline's unscaled layers, the
        exports and the HTML report included). The child records each dbt
        invocation as it passes through dbt's runner."""
        target = case_dir / "target"
        config = {
            "project_dir": str(self.project_dir),
            "target": str(target),
            "case_dir": str(case_dir),
            "inputs": self.cli_inputs(),
            "baseline_run_id": BASE_RUN_ID,
            "scaled_run_id": SCALED_RUN_ID,
            "strategy_profile": "core_v1",
            "start": self.market.start,
            "end": self.market.end,
        }
        config_path = case_dir / "inproc.json"
        config_path.write_text(json.dumps(config, indent=1))
        argv = [sys.executable, str(Path(__file__).resolve()), "_inproc", str(config_path)]
        db = case_dir / "bench.duckdb"
        process = run_process(
            argv,
            cwd=self.project_dir,
            env={**self.env(db), "DBT_TARGET_PATH": str(target)},
            stdout_path=case_dir / "stdout.txt",
            timeout=self.args.timeout,
        )
        log(
            f"  allocator two-pass (in-process): rc={process['returncode']} "
            f"{process['wall_s']:.1f} s, {process['peak_rss_mb']:.0f} MB"
        )
        report_path = case_dir / "inproc-report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else {"steps": []}
        stages = self.stages()
        invocations = []
        steps = report["steps"]
        # the CLI's work after its last dbt invocation (exports, report) ends
        # at cli_done; writing the harness's own records after that is not timed
        finished = report.get("cli_done_epoch") or process["ended_epoch"]
        for i, step in enumerate(steps):
            inv_dir = case_dir / step["label"]
            started = process["started_epoch"] if i == 0 else step["started_epoch"]
            ended = finished if i == len(steps) - 1 else steps[i + 1]["started_epoch"]
            record = {
                "label": step["label"],
                "argv": step["args"],
                "returncode": 0 if step["success"] else 1,
                "timed_out": False,
                # the first step carries the interpreter start and the imports,
                # each step the CLI's exports after it: the steps add up to the
                # CLI's wall time
                "wall_s": round(ended - started, 3),
                "invoke_s": step["wall_s"],
                "peak_rss_mb": round(step["maxrss_kb"] / 1024, 1),
                "started_epoch": started,
                "ended_epoch": ended,
                "load_before": step["load_before"],
                "load_after": step["load_after"],
            }
            log_file = inv_dir / "logs" / "dbt.log"
            text = log_file.read_text(errors="replace") if log_file.exists() else ""
            record["phases"] = log_phases(text, started, ended)
            if (inv_dir / "run_results.json").exists() and step["command"] == "build":
                record["results"] = summarize_run_results(
                    json.loads((inv_dir / "run_results.json").read_text()), stages
                )
            invocations.append(record)
        ok = process["returncode"] == 0 and steps and all(s["success"] for s in steps)
        if not ok:
            failed = {
                "label": "in-process",
                **process,
                "returncode": process["returncode"] or 1,
                "stdout_tail": tail(case_dir / "stdout.txt"),
            }
            failed["wall_s"] = 0.0 if steps else process["wall_s"]
            invocations.append(failed)
        for inv in invocations:
            inv["process_peak_rss_mb"] = process["peak_rss_mb"]
            inv["selection_source"] = "allocator.workflow.two_pass"
        return invocations

    def staged(self) -> dict:
        """Both passes stage by stage, one dbt process per stage, on a fresh file."""
        stages = self.stages()
        quiet = self.quiet()
        log(f"{self.market.size} / staged (load {quiet['load']})")
        case_dir = self.fresh_dir("staged")
        by_stage: dict[str, list[str]] = {stage: [] for stage in STAGES}
        for uid, stage in sorted(stages.items()):
            if node_kind(uid) in ("model", "seed") and stage in by_stage:
                by_stage[stage].append(node_name(uid))
        passes = [
            ("baseline", run_vars(self.market, BASE_RUN_ID)),
            ("scaled", run_vars(self.market, SCALED_RUN_ID, precomputed_run_id=BASE_RUN_ID)),
        ]
        invocations = []
        failed = False
        for p, (label, dbt_vars) in enumerate(passes, start=1):
            for s, stage in enumerate(STAGES, start=1):
                if failed or not by_stage[stage]:
                    continue
                # a stage is part of a run: built and tested, never published
                command = ["build", "--indirect-selection", "buildable", "-s", *by_stage[stage]]
                staged_vars = {**dbt_vars, "publish_run": False}
                inv = self.dbt(case_dir, f"{p}{s}-{label}-{stage}", command, staged_vars)
                inv.update(stage=stage, run=label)
                invocations.append(inv)
                failed = inv["returncode"] != 0
            if p == 1 and not failed:
                # pass 2 applies a published baseline: publish it whole (not
                # a stage, so not in the per-stage figures)
                publish = self.dbt(case_dir, "1x-baseline-publish", ["build"], dbt_vars)
                failed = publish["returncode"] != 0
        record = {
            "pre_wait": quiet,
            "ok": not failed,
            "invocations": [slim(inv) for inv in invocations],
            "stage_peak_rss_mb": {},
            "stage_wall_s": {},
            "db_mb": db_size_mb(case_dir / "bench.duckdb"),
        }
        for inv in invocations:
            for key, field in (("stage_peak_rss_mb", "peak_rss_mb"), ("stage_wall_s", "wall_s")):
                record[key].setdefault(inv["run"], {})[inv["stage"]] = inv[field]
        self.cleanup(case_dir)
        return record

    def probe_overhead(self) -> dict:
        """dbt's fixed costs without any node: import, full parse, partial parse,
        parse after a --vars change, and a build that selects nothing."""
        quiet = self.quiet()
        log(f"overhead probe (load {quiet['load']})")
        case_dir = self.fresh_dir("probe")
        base = run_vars(self.market, BASE_RUN_ID)
        other = run_vars(self.market, "bench_other")
        stdout = case_dir / "import.txt"
        imp = run_process(
            [sys.executable, "-c", "import dbt.cli.main, dbt.adapters.duckdb"],
            cwd=self.project_dir,
            env=self.env(case_dir / "bench.duckdb"),
            stdout_path=stdout,
            timeout=600,
        )
        steps = {
            "python -c 'import dbt.cli.main'": slim(imp),
            "dbt parse (no saved manifest)": self.dbt(case_dir, "1-parse-full", ["parse"], base),
            "dbt parse (same vars: partial)": self.dbt(case_dir, "2-parse-same", ["parse"], base),
            "dbt parse (vars changed)": self.dbt(case_dir, "3-parse-vars", ["parse"], other),
            "dbt build selecting nothing (same vars)": self.dbt(
                case_dir, "4-build-empty", ["build", "-s", "tag:__none__"], other
            ),
        }
        self.cleanup(case_dir)
        return {"pre_wait": quiet, "steps": {k: slim(v) for k, v in steps.items()}}

    def cleanup(self, case_dir: Path) -> None:
        if not self.args.keep_db:
            for path in case_dir.glob("bench.duckdb*"):
                path.unlink()


def slim(invocation: Mapping[str, Any], keep_nodes: bool = True) -> dict:
    """An invocation record without bulky fields."""
    record = dict(invocation)
    if not keep_nodes and "results" in record:
        record["results"] = {k: v for k, v in record["results"].items() if k != "nodes"}
    return record


def combine(invocations: Sequence[Mapping[str, Any]]) -> dict:
    """A case's totals over its dbt processes (run back to back)."""
    stage_seconds = {stage: 0.0 for stage in STAGES}
    test_seconds = 0.0
    node_seconds = 0.0
    kind_seconds: dict[str, float] = {}
    compile_seconds = 0.0
    phases: dict[str, float] = {}
    for inv in invocations:
        results = inv.get("results") or {}
        for stage, seconds in (results.get("stage_seconds") or {}).items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
        test_seconds += sum((results.get("test_seconds") or {}).values())
        node_seconds += results.get("node_seconds") or 0.0
        compile_seconds += results.get("compile_seconds") or 0.0
        for kind, seconds in (results.get("kind_seconds") or {}).items():
            kind_seconds[kind] = kind_seconds.get(kind, 0.0) + seconds
        for key, value in (inv.get("phases") or {}).items():
            if key.endswith("_s") and value is not None:
                phases[key] = phases.get(key, 0.0) + value
    wall = sum(inv["wall_s"] for inv in invocations)
    ok = bool(invocations) and all(inv["returncode"] == 0 for inv in invocations)
    failed = [n for inv in invocations for n in inv.get("failed_nodes") or []]
    return {
        "ok": ok,
        "wall_s": round(wall, 3),
        "peak_rss_mb": max((inv.get("peak_rss_mb") or 0.0 for inv in invocations), default=0.0),
        "stage_seconds": {k: round(v, 3) for k, v in stage_seconds.items()},
        "test_seconds": round(test_seconds, 3),
        "node_seconds": round(node_seconds, 3),
        "kind_seconds": {k: round(v, 3) for k, v in sorted(kind_seconds.items())},
        "compile_seconds": round(compile_seconds, 3),
        # With several dbt threads node seconds overlap, so the fixed part is
        # the wall outside the node span (first node start to last finish).
        "fixed_overhead_s": round(
            wall - phases["nodes_s"] if "nodes_s" in phases else wall - node_seconds, 3
        ),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "failed_nodes": failed,
        "load_start": invocations[0]["load_before"] if invocations else None,
        "load_end": invocations[-1]["load_after"] if invocations else None,
        "invocations": list(invocations),
    }


# --------------------------------------------------------------------------- in-process child


def inproc_main(config_path: str) -> int:
    """Child of the two-pass-reuse case: ``allocator.workflow.two_pass``, the
    CLI's own code, with dbt's runner wrapped to time each invocation and keep
    its results and log. Writes inproc-report.json into the case folder."""
    import resource

    config = json.loads(Path(config_path).read_text())
    case_dir = Path(config["case_dir"])
    project = Path(config["project_dir"])
    report: dict[str, Any] = {"steps": []}
    report_path = case_dir / "inproc-report.json"
    log_dir = case_dir / "logs"
    os.environ["DBT_LOG_PATH"] = str(log_dir)
    os.chdir(project)
    from dbt.cli.main import dbtRunner

    from allocator import workflow

    labels = iter(["0-parse", "1-baseline", "2-scaled"])
    results: list[tuple[Path, Any]] = []
    invoke = dbtRunner.invoke

    def recording_invoke(runner: Any, args: list[str], **kwargs: Any) -> Any:
        label = next(labels, f"extra-{len(report['steps'])}")
        load_before = loadavg()
        started = time.time()
        result = invoke(runner, args, **kwargs)
        ended = time.time()
        inv_dir = case_dir / label
        (inv_dir / "logs").mkdir(parents=True, exist_ok=True)
        if (log_dir / "dbt.log").exists():  # the log so far: its last invocation is this one
            shutil.copy(log_dir / "dbt.log", inv_dir / "logs" / "dbt.log")
        if args[0] == "build" and result.result is not None:
            results.append((inv_dir / "run_results.json", result.result))
        report["steps"].append(
            {
                "label": label,
                "command": args[0],
                "args": list(args),
                "success": bool(result.success),
                "started_epoch": started,
                "wall_s": round(ended - started, 3),
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "load_before": load_before,
                "load_after": loadavg(),
            }
        )
        return result

    dbtRunner.invoke = recording_invoke  # type: ignore[method-assign]
    settings = workflow.resolve_settings(os.environ, project, reports_dir=str(case_dir / "reports"))
    baseline = workflow.RunRequest(
        config["baseline_run_id"],
        config["strategy_profile"],
        dt.date.fromisoformat(config["start"]),
        dt.date.fromisoformat(config["end"]),
        inputs=tuple(sorted(config["inputs"].items())),
    )
    code = 0
    try:
        workflow.two_pass(settings, baseline, config["scaled_run_id"], print)
    except Exception as exc:  # noqa: BLE001 - reported, then the records are still written
        print(f"two-pass failed: {exc}", flush=True)
        code = 1
    report["cli_done_epoch"] = time.time()
    for path, result in results:
        result.write(str(path))
    report_path.write_text(json.dumps(report, indent=1))
    return code


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for package in ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        duckdb_threads = int(
            _python(
                [
                    "-c",
                    "import duckdb; print(duckdb.connect()"
                    ".execute(\"select current_setting('threads')\")"
                    ".fetchone()[0])",
                ]
            ).strip()
        )
    except (RuntimeError, ValueError):
        duckdb_threads = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "duckdb_default_threads": duckdb_threads,
        "dbt_threads": profile_threads(REPO / "profiles.yml"),
    }


def profile_threads(profiles: Path) -> int | None:
    """dbt's thread count from the project's profile (a regex: the harness
    does not import yaml or dbt, to keep its own peak memory out of the figures)."""
    try:
        match = re.search(r"^\s*threads:\s*(\d+)", profiles.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match[1]) if match else None


def project_fingerprint(project_dir: Path) -> str:
    """Short hash of the files that decide what dbt builds (the tree is edited
    between commits, so the commit alone does not identify what ran)."""
    import hashlib

    digest = hashlib.sha1()
    roots = ["models", "macros", "tests", "seeds", "python/allocator"]
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for root in roots:
        files += sorted(
            p
            for p in (project_dir / root).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
    for path in files:
        try:
            content = path.read_bytes()
        except OSError:  # missing, or replaced while someone edits the tree
            continue
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(content)
    return digest.hexdigest()[:12]


def git_state(project_dir: Path) -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty_files": len(git("status", "--porcelain").splitlines()),
        "fingerprint": project_fingerprint(project_dir),
    }


# --------------------------------------------------------------------------- results table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _size_key(size: str) -> tuple:
    if size in DEFAULT_SIZES:
        return (0, DEFAULT_SIZES.index(size), 0)
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    return (1, int(match[1]) * int(match[2]) if match else 0, size)


def latest_by_size(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The newest record of every size, sizes in benchmark order."""
    latest: dict[str, Mapping[str, Any]] = {}
    for record in records:
        size = record["size"]
        if size not in latest or record["started_at"] > latest[size]["started_at"]:
            latest[size] = record
    return [latest[size] for size in sorted(latest, key=_size_key)]


def target_status(size: str, case: str, record: Mapping[str, Any]) -> str:
    """'met' / 'NOT met' (+ why) for the issue's targets; '' where none applies."""
    if size not in TARGETS or (case not in TWO_PASS_CASES and size != "2000x5000"):
        return ""
    if not record.get("ok"):
        return "NOT met (failed)"
    max_wall, max_rss = TARGETS[size]
    misses = []
    if max_wall is not None and record["wall_s"] > max_wall:
        misses.append(f"{record['wall_s']:.1f} s > {max_wall:.0f} s")
    if max_rss is not None and record["peak_rss_mb"] > max_rss:
        misses.append(f"{record['peak_rss_mb']:.0f} MB > {max_rss:.0f} MB")
    limits = []
    if max_wall is not None:
        limits.append(f"≤ {max_wall:.0f} s")
    if max_rss is not None:
        limits.append(f"≤ {max_rss / 1024:.0f} GB")
    goal = " & ".join(limits) or "completes"
    return f"NOT met ({'; '.join(misses)})" if misses else f"met ({goal})"


def _load_text(load: Sequence[float] | None) -> str:
    return "–" if not load else f"{load[0]:.2f}"


def render_case_table(case: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [r for r in records if case in r.get("cases", {})]
    if not rows:
        return []
    head = (
        ["Size", "N × T", "wall s", "peak RSS MB"]
        + [f"{s} s" for s in STAGES]
        + [
            "of which tests s",
            "dbt fixed s",
            "startup+parse s",
            "DB MB",
            "load 1m start→end",
            "target",
        ]
    )
    lines = [
        f"### {case}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 3) + ["---"]) + "|",
    ]
    for record in rows:
        result = record["cases"][case]
        market = record["market"]
        phases = result.get("phases") or {}
        startup_parse = None
        if "startup_s" in phases or "parse_s" in phases:
            startup_parse = phases.get("startup_s", 0.0) + phases.get("parse_s", 0.0)
        wall = _fmt(result["wall_s"])
        if not result.get("ok"):
            wall = f"FAILED after {wall}"
        cells = [
            record["size"],
            f"{market['n_symbols']} × {market['n_days']}",
            wall,
            _fmt(result["peak_rss_mb"], 0),
            *[_fmt(result["stage_seconds"].get(stage), 2) for stage in STAGES],
            _fmt(result.get("test_seconds"), 2),
            _fmt(result.get("fixed_overhead_s"), 1),
            _fmt(startup_parse, 1),
            _fmt(result.get("db_mb"), 0),
            f"{_load_text(result.get('load_start'))}→{_load_text(result.get('load_end'))}",
            target_status(record["size"], case, result) or "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if not result.get("ok") and result.get("failed_nodes"):
            failed = ", ".join(result["failed_nodes"])
            lines.append(f"| ↳ failed at: {failed} |" + " |" * (len(head) - 1))
    return lines + [""]


def render_staged_table(records: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [r for r in records if r.get("staged")]
    if not rows:
        return []
    head = ["Size", "run"] + [f"{s} MB / s" for s in STAGES] + ["DB MB"]
    lines = [
        "### Per-stage peak RSS (staged mode)",
        "",
        "One `dbt build -s <stage's models and seeds> --indirect-selection buildable` process "
        "per stage, in order, on a fresh database: peak RSS MB / wall s of each process. Each "
        "process pays dbt's startup and a (partial) parse, so these walls are larger than the "
        "per-stage node seconds above.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|",
    ]
    for record in rows:
        staged = record["staged"]
        for run in ("baseline", "scaled"):
            rss = staged["stage_peak_rss_mb"].get(run, {})
            wall = staged["stage_wall_s"].get(run, {})
            if not rss:
                continue
            cells = (
                [record["size"], run]
                + [
                    f"{_fmt(rss.get(stage), 0)} / {_fmt(wall.get(stage), 1)}"
                    if stage in rss
                    else "–"
                    for stage in STAGES
                ]
                + [_fmt(staged.get("db_mb"), 0) if run == "scaled" else ""]
            )
            lines.append("| " + " | ".join(cells) + " |")
        if not staged.get("ok"):
            failed = [inv for inv in staged["invocations"] if inv["returncode"] != 0]
            where = ", ".join(
                f"{inv['label']}: {', '.join(inv.get('failed_nodes') or [])}" for inv in failed
            )
            lines.append(f"| {record['size']} | FAILED | {where} |" + " |" * (len(head) - 3))
    return lines + [""]


def slowest_nodes(
    record: Mapping[str, Any], case: str, top: int = 10
) -> list[tuple[str, str, float]]:
    """(node, stage, seconds summed over the case's processes), slowest first."""
    totals: dict[str, list] = {}
    for inv in record.get("cases", {}).get(case, {}).get("invocations", []):
        for node in (inv.get("results") or {}).get("nodes", []):
            entry = totals.setdefault(node["id"], [node["stage"], 0.0])
            entry[1] += node["seconds"]
    ranked = sorted(totals.items(), key=lambda item: -item[1][1])[:top]
    return [(uid, stage, round(seconds, 3)) for uid, (stage, seconds) in ranked]


def render_slowest(records: Sequence[Mapping[str, Any]], case: str = "two-pass") -> list[str]:
    rows = [r for r in records if case in r.get("cases", {})]
    if not rows:
        return []
    lines = [f"### Slowest nodes ({case}, both passes summed)", ""]
    for record in rows:
        nodes = slowest_nodes(record, case)
        total = record["cases"][case].get("node_seconds") or 0.0
        text = ", ".join(
            f"{display_name(uid)} ({kind_short(uid)}{stage}) {seconds:.2f}"
            for uid, stage, seconds in nodes
        )
        lines.append(f"- **{record['size']}** (node total {total:.1f} s): {text}")
    return lines + [""]


def kind_short(uid: str) -> str:
    kind = node_kind(uid)
    return "" if kind == "model" else f"{kind}, "


def render_probe(records: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [r for r in records if r.get("overhead_probe")]
    if not rows:
        return []
    record = rows[-1]
    lines = [
        f"### dbt fixed cost (size {record['size']}, no data work)",
        "",
        "| step | wall s | startup s | parse s | peak RSS MB | dbt says |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, step in record["overhead_probe"]["steps"].items():
        phases = step.get("phases") or {}
        lines.append(
            f"| {name} | {_fmt(step['wall_s'], 2)} | {_fmt(phases.get('startup_s'), 2)} | "
            f"{_fmt(phases.get('parse_s'), 2)} | {_fmt(step['peak_rss_mb'], 0)} | "
            f"{phases.get('partial_parse') or ''} |"
        )
    return lines + [""]


def _project_text(record: Mapping[str, Any]) -> str:
    git = record.get("git") or {}
    text = f"{git.get('commit', '?')}"
    if git.get("dirty_files"):
        text += f" + {git['dirty_files']} uncommitted files"
    if git.get("fingerprint"):
        text += f", tree {git['fingerprint']}"
    if record.get("build_args"):
        text += f", build args `{' '.join(record['build_args'])}`"
    return text


def render_results(records: Sequence[Mapping[str, Any]], notes: str = "") -> str:
    """RESULTS.md from raw records: newest record per size."""
    latest = latest_by_size(records)
    lines = [
        "# Scale benchmark results",
        "",
        "Generated by `benchmarks/run_benchmark.py` from `benchmarks/results/summary.json` "
        "(newest record per size); see [README](README.md) for the method.",
        "",
    ]
    if not latest:
        return "\n".join(lines + ["No results yet.", ""])
    machine = latest[-1]["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines += [
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; RAM {machine['ram_gb']} GB; "
        f"{machine['os']}",
        f"- Python {machine['python']}; {versions}",
        f"- dbt threads {machine['dbt_threads']} (profiles.yml); DuckDB threads "
        f"{machine['duckdb_default_threads']} (its default: all cores)",
        "- Every row shows the 1-minute load average before and after it (the benchmark's "
        "own dbt processes count in it; nothing else ran on the machine unless said below).",
        "- Peak RSS is `ru_maxrss` of each dbt process from `os.wait4`. Linux counts the "
        "parent's peak at exec into it, so the harness keeps itself small (it never imports "
        "DuckDB/pandas; its own peak was "
        f"{max(r.get('harness_peak_rss_mb') or 0 for r in latest):.0f} MB, the floor of "
        "every figure).",
        "",
        "## Runs",
        "",
        "| Size | date | market | window | project | command | load 1m at start / end |",
        "|---|---|---|---|---|---|---|",
    ]
    for record in latest:
        market = record["market"]
        source = (
            f"synthetic seed {market['seed']}, {market['rows']:,} rows"
            if market.get("seed") is not None
            else f"bundled demo, {market['rows']:,} rows"
        )
        lines.append(
            f"| {record['size']} | {record['started_at'][:16].replace('T', ' ')} | {source} | "
            f"{market['start']} → {market['end']} | {_project_text(record)} | "
            f"`{record['command']}` | "
            f"{_load_text(record.get('load_start'))} / {_load_text(record.get('load_end'))} |"
        )
    lines += [
        "",
        "## Results",
        "",
        "Wall and peak RSS: the whole case (two-pass: both dbt processes back to back; "
        "peak = the larger). Stage columns: dbt node seconds from run_results.json "
        "(tests counted in the stage of the model they test, seeds in staging, "
        "two_pass_* marts = comparison). Node seconds overlap when dbt runs "
        "two threads, so stage columns can add up to more than the wall. dbt fixed = wall "
        "outside the span from the first node's start to the last node's end (Python "
        "start, imports, parse, DAG setup, teardown); startup+parse = its part before the "
        "first node from dbt's log.",
        "",
    ]
    for case in CASES:
        lines += render_case_table(case, latest)
    lines += render_staged_table(latest)
    lines += render_slowest(latest)
    lines += render_probe(latest)
    lines += ["## Where the time goes", "", NOTES_START, notes.strip("\n"), NOTES_END, ""]
    return "\n".join(lines)


def extract_notes(markdown: str) -> str:
    """The hand-written block of an existing RESULTS.md."""
    if NOTES_START in markdown and NOTES_END in markdown:
        return markdown.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0]
    return ""


#: The checked-in results: one slim record per benchmarked size and run.
SUMMARY_FILE = "summary.json"
#: Slowest nodes a slim record keeps per case (what RESULTS.md lists).
SLOWEST_KEPT = 10


def slim_record(record: Mapping[str, Any], top: int = SLOWEST_KEPT) -> dict:
    """A record without its per-node lists, except the nodes of each case's
    ``top`` slowest, so RESULTS.md renders from it exactly as from the raw one."""
    slim = json.loads(json.dumps(record))
    for case_name, case in (slim.get("cases") or {}).items():
        kept = {uid for uid, _, _ in slowest_nodes(record, case_name, top)}
        for invocation in case.get("invocations") or []:
            results = invocation.get("results") or {}
            if "nodes" in results:
                results["nodes"] = [node for node in results["nodes"] if node["id"] in kept]
    for invocation in (slim.get("staged") or {}).get("invocations") or []:
        (invocation.get("results") or {}).pop("nodes", None)
    return slim


def load_records(out: Path) -> list[dict]:
    """The records of summary.json and of any raw record file beside it, slim."""
    records: dict[tuple[str, str], dict] = {}
    summary = out / SUMMARY_FILE
    if summary.is_file():
        for record in json.loads(summary.read_text()).get("records", []):
            records[(record["size"], record["started_at"])] = record
    for path in sorted(out.glob("*.json")):
        if path.name == SUMMARY_FILE:
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and "size" in record and "cases" in record:
            records[(record["size"], record["started_at"])] = slim_record(record)
    return sorted(records.values(), key=lambda r: (r["started_at"], r["size"]))


def write_summary(out: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    """summary.json: every record, slim, oldest first (what RESULTS.md is rebuilt from)."""
    path = out / SUMMARY_FILE
    document = {
        "about": "Slim benchmark records (run_benchmark.py slim_record); RESULTS.md is "
        "rebuilt from them with `run_benchmark.py --render-only`.",
        "records": list(records),
    }
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def write_table(out: Path, table: Path) -> None:
    """summary.json (raw record files in ``out`` folded into it) and RESULTS.md."""
    records = load_records(out)
    write_summary(out, records)
    notes = extract_notes(table.read_text()) if table.exists() else ""
    table.write_text(render_results(records, notes))
    log(f"wrote {out / SUMMARY_FILE} and {table}")


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(DEFAULT_SIZES), help="comma list of demo and <symbols>x<days>"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw JSON results folder")
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="results table to regenerate (default: benchmarks/RESULTS.md for "
        "the default --out, else <out>/RESULTS.md)",
    )
    parser.add_argument("--seed", type=int, default=5, help="synthetic market seed")
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="scratch folder: markets, databases, dbt target/logs",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=REPO,
        help="dbt project to benchmark (e.g. a scratch copy with a change)",
    )
    parser.add_argument("--dbt", type=Path, default=None, help="dbt executable")
    parser.add_argument("--no-staged", action="store_true", help="skip the per-stage memory runs")
    parser.add_argument("--no-probe", action="store_true", help="skip the dbt fixed-cost probe")
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="wait before each case until the 1-min load is at most this",
    )
    parser.add_argument("--max-wait", type=float, default=900.0, help="longest wait, seconds")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per dbt process, seconds")
    parser.add_argument(
        "--build-arg",
        dest="build_args",
        action="append",
        default=[],
        help="extra argument for every dbt build, e.g. "
        "--build-arg=--exclude-resource-type --build-arg=unit_test "
        "(to measure a proposal; recorded in the results)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the DuckDB files")
    parser.add_argument(
        "--render-only", action="store_true", help="only regenerate the table from --out"
    )
    return parser


def resolve_dbt(given: Path | None) -> Path:
    if given:
        return given
    sibling = Path(sys.executable).with_name("dbt")
    if sibling.exists():
        return sibling
    found = shutil.which("dbt")
    if not found:
        raise SystemExit("dbt not found: run with the project's venv python or pass --dbt")
    return Path(found)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_inproc"]:
        return inproc_main(argv[1])
    args = build_parser().parse_args(argv)
    args.project_dir = args.project_dir.resolve()
    args.out = args.out.resolve()
    table = args.table or (
        DEFAULT_TABLE if args.out == DEFAULT_OUT.resolve() else args.out / "RESULTS.md"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        write_table(args.out, table)
        return 0
    sizes = [parse_size(text) for text in parse_list(args.sizes)]
    cases = parse_list(args.cases, CASES)
    args.dbt = resolve_dbt(args.dbt)
    command = "python benchmarks/run_benchmark.py " + " ".join(argv)
    machine = machine_info()
    failures = 0
    for size in sizes:
        try:
            failures += run_size(args, size, cases, command, machine, table)
        except Exception:  # noqa: BLE001 - report, then go on with the next size
            import traceback

            log(f"{size.name}: aborted:\n{traceback.format_exc()}")
            failures += 1
    return 1 if failures else 0


def run_size(
    args: argparse.Namespace,
    size: Size,
    cases: Sequence[str],
    command: str,
    machine: Mapping[str, Any],
    table: Path,
) -> int:
    """All cases of one size; writes its JSON record and the table. Returns failures."""
    failures = 0
    started = dt.datetime.now().isoformat(timespec="seconds")
    load_start = loadavg()
    size_dir = args.work / size.name
    size_dir.mkdir(parents=True, exist_ok=True)
    market = prepare_market(size, args.project_dir, args.work, args.seed)
    log(
        f"{size.name}: {market.n_symbols} symbols x {market.n_days} days, "
        f"window {market.start}..{market.end}"
    )
    bench = Bench(args, market, size_dir)
    record: dict[str, Any] = {
        "schema": 1,
        "size": size.name,
        "started_at": started,
        "command": command.strip(),
        "project_dir": str(args.project_dir),
        "build_args": list(args.build_args),
        "git": git_state(args.project_dir),
        "machine": machine,
        "market": asdict(market),
        "load_start": load_start,
        "cases": {},
    }
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    # the raw record (every node's seconds) stays in the work folder; the
    # results folder keeps its slim form in summary.json
    out_path = args.work / "results" / f"{stamp}-{size.name}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for case in cases:
        record["cases"][case] = bench.case(case)
        failures += not record["cases"][case]["ok"]
        out_path.write_text(json.dumps(record, indent=1))
    if not args.no_staged:
        record["staged"] = bench.staged()
        failures += not record["staged"]["ok"]
    if not args.no_probe and size.name == "demo":
        record["overhead_probe"] = bench.probe_overhead()
    record["finished_at"] = dt.datetime.now().isoformat(timespec="seconds")
    record["harness_peak_rss_mb"] = harness_peak_rss_mb()
    record["load_end"] = loadavg()
    out_path.write_text(json.dumps(record, indent=1))
    log(f"wrote {out_path}")
    summary = [r for r in load_records(args.out) if r["started_at"] != record["started_at"]]
    write_summary(args.out, [*summary, slim_record(record)])
    write_table(args.out, table)
    return failures


if __name__ == "__main__":
    sys.exit(main())
