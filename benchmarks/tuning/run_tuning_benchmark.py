#!/usr/bin/env python3
"""Tuning benchmark: `allocator tune` end to end against sequential `allocator run`.

    python benchmarks/tuning/run_tuning_benchmark.py [--configs 1000,10000] [--sequential 3]
        [--work /tmp/allocator-tuning-bench] [--out benchmarks/tuning/results.json]

On a fresh DuckDB file in --work: one demo baseline (`allocator run --mode
compute`), then per grid size one `allocator tune` process (process start to
the HTML report written: dbt parse, the sweep, metrics, walk-forward, DSR,
PBO, tests, publish, files), timed wall-clock with its peak resident memory
(``ru_maxrss`` of that child from ``os.wait4``). The grid is a deterministic
sample of a larger product of settings, so N configurations are N distinct
ones (the baseline's own counted among them). Then --sequential full
`allocator run --no-tests` calls, each with one of the grid's
configurations as --governor-config when the CLI has it, time what the
same tuning costs one run at a time; that figure is extrapolated to N.
Only the standard library and pandas are used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
AXES = {
    "elevated_multiplier": [0.8, 0.9, 1.0, 1.1, 1.2],
    "stress_multiplier": [0.8, 0.9, 1.0, 1.1, 1.2],
    "crisis_multiplier": [0.9, 1.0, 1.1, 1.2],
    "min_days": [2, 3, 5, 8, 10],
    "targets": [(1.0, 0.85, 0.55, 0.30), (1.0, 0.80, 0.45, 0.20), (1.0, 0.70, 0.35, 0.10)],
    "alpha": [0.25, 0.5, 0.75],
    "floor": [0.10, 0.25],
    "cadence": ["rebalance_lagged", "rebalance", "daily"],
}


def grid(n_rows: int, seed: int = 13) -> pd.DataFrame:
    """n_rows distinct configurations sampled from the product of AXES."""
    names = list(AXES)
    product = list(itertools.product(*(AXES[name] for name in names)))
    rng = random.Random(seed)
    rows = []
    for values in rng.sample(product, n_rows):
        row = dict(zip(names, values, strict=True))
        targets = row.pop("targets")
        row.update(
            zip(
                ("target_normal", "target_elevated", "target_stress", "target_crisis"),
                targets,
                strict=True,
            )
        )
        rows.append(row)
    return pd.DataFrame(rows)


def timed(command: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one child process; raises on failure."""
    started = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="1000,10000")
    parser.add_argument("--sequential", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/allocator-tuning-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "tuning" / "results.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    allocator = str(Path(sys.executable).with_name("allocator"))
    db = args.work / "bench.duckdb"
    db.unlink(missing_ok=True)
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db),
        "ALLOCATOR_REPORTS_DIR": str(args.work / "reports"),
    }
    window = ["--strategy-profile", "core_v1", "--start", "2005-01-03", "--end", "2022-12-28"]
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]}
    }
    results["baseline"] = timed(
        [allocator, "run", *window, "--mode", "compute", "--run-id", "bench_base"],
        env,
        args.work / "baseline.log",
    )
    print("baseline", results["baseline"], flush=True)
    sizes = [int(n) for n in args.configs.split(",")]
    for n in sizes:
        path = args.work / f"grid_{n}.csv"
        grid(n - 1).to_csv(path, index=False)  # the baseline's own settings make the n-th
        measured = timed(
            [
                allocator,
                "tune",
                "--run-id",
                "bench_base",
                "--grid",
                str(path),
                "--tuning-id",
                f"bench_{n}",
            ],
            env,
            args.work / f"tune_{n}.log",
        )
        measured["log_tail"] = (args.work / f"tune_{n}.log").read_text().splitlines()[-14:]
        results[f"tune_{n}"] = measured
        print(n, {k: v for k, v in measured.items() if k != "log_tail"}, flush=True)
    has_governor_config = (
        "--governor-config"
        in subprocess.run(
            [allocator, "run", "--help"], capture_output=True, text=True, cwd=REPO, env=env
        ).stdout
    )
    sample = grid(args.sequential, seed=99)
    runs = []
    for i, row in sample.iterrows():
        extra: list[str] = []
        if has_governor_config:
            config_file = args.work / f"sequential_{i}.json"
            row_grid = args.work / f"sequential_{i}.csv"
            pd.DataFrame([row]).to_csv(row_grid, index=False)
            extra = ["--governor-config", str(config_file)]
            # the chosen-config writer of `allocator tune` is the one way to a config file
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _WRITE_CONFIG,
                    "bench_base",
                    str(row_grid),
                    str(config_file),
                ],
                check=True,
                cwd=REPO,
                env=env,
            )
        runs.append(
            timed(
                [
                    allocator,
                    "run",
                    *window,
                    "--mode",
                    "compute",
                    "--no-tests",
                    "--run-id",
                    f"bench_seq_{i}",
                    *extra,
                ],
                env,
                args.work / f"sequential_{i}.log",
            )
        )
    if not runs:  # --sequential 0: the sweep's figures alone, no extrapolation
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2, default=str))
        return
    per_run = sum(r["seconds"] for r in runs) / len(runs)
    results["sequential"] = {
        "runs": runs,
        "seconds_per_run": round(per_run, 2),
        "governor_config": has_governor_config,
    }
    for n in sizes:
        results[f"tune_{n}"]["sequential_extrapolated_seconds"] = round(per_run * n, 1)
        results[f"tune_{n}"]["speedup"] = round(per_run * n / results[f"tune_{n}"]["seconds"], 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))


# One grid row -> the governor-config file of that configuration on the baseline.
_WRITE_CONFIG = """
import json, sys
import duckdb
from allocator.tuning import (
    governor_document, governor_from_config_json, load_grid, resolve_grid,
)
import os
con = duckdb.connect(os.environ['ALLOCATOR_DUCKDB_PATH'], read_only=True)
sql = 'select config_json from marts.runs where run_id = ?'
(config_json,) = con.execute(sql, [sys.argv[1]]).fetchall()[0]
governor = governor_from_config_json(config_json)
grid = resolve_grid(load_grid(sys.argv[2]), governor)
row = grid.iloc[-1].to_dict()
open(sys.argv[3], 'w').write(json.dumps(governor_document(governor, row)))
"""


if __name__ == "__main__":
    main()
