"""The cross-universe protocol (issue 21): calibrate on some universes,
evaluate on the others, never on a universe (or its data) used to calibrate.

    .venv/bin/python benchmarks/governor_protocol/run_protocol.py --work /tmp/protocol
    # again without rebuilding the baselines:
    ... run_protocol.py --work /tmp/protocol --reuse
    # and confirm the chosen default through the CLI's two-pass audit:
    ... run_protocol.py --work /tmp/protocol --reuse --confirm

1. Each universe (universes.py) gets a baseline run through the project's
   CLI (``allocator run``, mode off, its own throwaway database).
2. Every calibration of candidates.py is measured on every baseline with the
   project's sweep (protocol.evaluate_many).
3. Leave one data source out: for each universe, the calibration is chosen
   on the universes of the *other* data sources only (the demo, the
   two-stock and single-stock books share the 20 large caps; the S&P 500 and
   the multi-asset book share the index; each synthetic seed is a market),
   by protocol.training_score, among calibrations that keep the demo and
   S&P 500 targets when those universes are in training. The universe is
   then evaluated with that calibration: out of calibration.
4. The table prints per universe; the default calibration is the one chosen
   on all universes.

Writes docs/governor_protocol.md (``--results``), the calibration chosen
on all universes as chosen_governor.json beside this file (a governor
config: ``allocator two-pass ... --governor-config``) and a JSON of every
figure into the work folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baselines import (  # noqa: E402
    baseline_arguments,
    load_baseline,
    published,
    run_cli,
    two_pass_arguments,
)
from candidates import grid  # noqa: E402
from protocol import (  # noqa: E402
    TIMING_NOT_FAILURE_SHARE,
    Candidate,
    choose,
    evaluate_many,
    leave_one_out,
    passes,
)
from universes import Universe, build_universes  # noqa: E402

#: The data a universe is built from: leave-one-out leaves a whole source out.
SOURCES = {
    "demo": "sp500_stocks",
    "two_stock": "sp500_stocks",
    "single_ge": "sp500_stocks",
    "single_aapl": "sp500_stocks",
    "sp500": "sp500_index",
    "multi_asset": "sp500_index",
    "factor_etfs": "factor_etfs",
}
SP500_WINDOW_START = np.datetime64("1991-01-02")
DEMO_SHARPE_LOSS_MAX = 0.05
SP500_TARGET = {"max_drawdown": -0.35, "sharpe": 0.55}
SP500_STRETCH = {"max_drawdown": -0.27, "sharpe": 0.58}


def source_of(name: str) -> str:
    if name.startswith("synthetic"):
        return "synthetic_" + name.rsplit("_s", 1)[1]
    return SOURCES.get(name, name)


def meets_demo_target(row: Mapping[str, Any]) -> bool:
    """MaxDD better than both controls at the same vol, Sharpe loss <= 0.05."""
    return (
        row["governor_max_drawdown"] > row["vol_matched_max_drawdown"]
        and row["governor_max_drawdown"] > row["vol_target_max_drawdown"]
        and row["baseline_sharpe"] - row["governor_sharpe"] <= DEMO_SHARPE_LOSS_MAX
    )


def meets_sp500_target(row: Mapping[str, Any], target: Mapping[str, float] = SP500_TARGET) -> bool:
    """1991-2022: MaxDD better than -35% at a Sharpe of at least 0.55."""
    return (
        row["window_max_drawdown"] > target["max_drawdown"]
        and row["window_sharpe"] >= target["sharpe"]
    )


def admissible_for(results: Mapping[str, Mapping[str, Mapping[str, Any]]]):
    def admissible(name: str, training: Sequence[str]) -> bool:
        if "demo" in training and not meets_demo_target(results[name]["demo"]):
            return False
        return not ("sp500" in training and not meets_sp500_target(results[name]["sp500"]))

    return admissible


# --------------------------------------------------------------------------- steps


def build_baselines(universes: Sequence[Universe], work: Path, reuse: bool) -> None:
    for universe in universes:
        database = work / f"{universe.name}.duckdb"
        if reuse and database.exists():
            continue
        seconds = run_cli(
            [*baseline_arguments(universe.cli_args, f"{universe.name}_base"), "--no-tests"]
            + ["--replace"],
            work,
            database,
            work / "logs" / f"{universe.name}_base.log",
        )
        print(f"{universe.name}: baseline built in {seconds:.0f} s", flush=True)


def measure(
    universes: Sequence[Universe], candidates: Sequence[Candidate], work: Path
) -> dict[str, dict[str, dict[str, Any]]]:
    """results[candidate][universe] = protocol.evaluate's row."""
    results: dict[str, dict[str, dict[str, Any]]] = {c.name: {} for c in candidates}
    for universe in universes:
        started = time.perf_counter()
        book, governor, info = load_baseline(
            work / f"{universe.name}.duckdb", f"{universe.name}_base"
        )
        window = SP500_WINDOW_START if universe.name == "sp500" else None
        rows = evaluate_many(book, governor, candidates, window_start=window)
        for candidate, row in zip(candidates, rows, strict=True):
            row["features_missing"] = sorted(info["features_missing"])
            results[candidate.name][universe.name] = row
        print(
            f"{universe.name}: {len(candidates)} calibrations in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return results


def confirm(universes: Sequence[Universe], work: Path, default: Candidate) -> dict[str, Any]:
    """The default through the CLI: a two-pass audit per universe with the
    chosen calibration as a governor config, and the audit's own flags."""
    config = work / "default_governor.json"
    config.write_text(json.dumps(default.document(), indent=2))
    out = {}
    for universe in universes:
        database = work / f"{universe.name}_confirm.duckdb"
        seconds = run_cli(
            two_pass_arguments(universe.cli_args, universe.name, config),
            work,
            database,
            work / "logs" / f"{universe.name}_two_pass.log",
        )
        flags = published(
            database,
            "select flag, status from two_pass_flags where scaled_run_id = ? order by flag_order",
            [f"{universe.name}_scaled"],
        )
        out[universe.name] = {
            "seconds": seconds,
            "flags": dict(zip(flags["flag"], flags["status"], strict=True)),
        }
        print(f"{universe.name}: two-pass in {seconds:.0f} s", flush=True)
    return out


# --------------------------------------------------------------------------- report


def pct(value: float, decimals: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:.{decimals}f}%"


def table(rows: Mapping[str, Mapping[str, Any]], chosen: Mapping[str, str]) -> list[str]:
    head = (
        "| universe | calibrated without it | N / E / S / C | changes a year | months "
        "flagged | longest S/C spell (sessions, dates) | days de-risked | baseline MaxDD / "
        "Sharpe | governor | (b) vol-matched | (c) vol target | timing_skill | criteria "
        "missed |"
    )
    lines = [head, "|" + "---|" * 13]
    for name, row in rows.items():
        spell = row["longest_spell_sessions"]
        spell_text = (
            f"{spell} ({row['longest_spell_start']} .. {row['longest_spell_end']})"
            if spell
            else "0"
        )
        lines.append(
            f"| {name} | {chosen[name]} | {pct(row['share_normal'], 0)} / "
            f"{pct(row['share_elevated'], 0)} / {pct(row['share_stress'], 0)} / "
            f"{pct(row['share_crisis'], 0)} | {row['changes_per_year']:.1f} | "
            f"{pct(row['months_flagged'], 0)} | {spell_text} | {pct(row['derisked_share'], 0)} | "
            f"{pct(row['baseline_max_drawdown'])} / {row['baseline_sharpe']:.2f} | "
            f"{pct(row['governor_max_drawdown'])} / {row['governor_sharpe']:.2f} | "
            f"{pct(row['vol_matched_max_drawdown'])} / {row['vol_matched_sharpe']:.2f} | "
            f"{pct(row['vol_target_max_drawdown'])} / {row['vol_target_sharpe']:.2f} | "
            f"{row['timing_skill']} | {row['missed'] or 'none'} |"
        )
    return lines


def verdict(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names = list(rows)
    per_criterion = {
        criterion: sum(passes(rows[n])[criterion] for n in names)
        for criterion in passes(rows[names[0]])
    }
    not_failure = sum(rows[n]["timing_skill"] != "failure" for n in names)
    needed = math.ceil(TIMING_NOT_FAILURE_SHARE * len(names))
    lines = [
        f"- every criterion met: {sum(rows[n]['all_met'] for n in names)} of {len(names)} "
        "universes",
    ]
    lines += [
        f"- {criterion}: met on {count} of {len(names)}"
        for criterion, count in per_criterion.items()
    ]
    lines.append(
        f"- timing_skill not a failure: {not_failure} of {len(names)} (needed: {needed}, two "
        f"thirds): {'met' if not_failure >= needed else 'MISSED'}"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true", help="keep baselines already built")
    parser.add_argument("--confirm", action="store_true", help="two-pass audits of the default")
    parser.add_argument("--universes", nargs="*", default=None)
    parser.add_argument(
        "--results", type=Path, default=HERE.parents[1] / "docs" / "governor_protocol.md"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = args.work.resolve()
    universes = build_universes(work, args.universes)
    build_baselines(universes, work, args.reuse)
    candidates = grid()
    results = measure(universes, candidates, work)
    names = [u.name for u in universes]
    order = [c.name for c in candidates]
    admissible = admissible_for(results)
    group = {name: source_of(name) for name in names}
    chosen = leave_one_out(results, names, order, admissible, group)
    held_out = {name: results[chosen[name]][name] for name in names}
    default_name = choose(results, names, order, admissible)
    default = next(c for c in candidates if c.name == default_name)
    in_sample = {name: results[default_name][name] for name in names}
    today = {name: results[order[0]][name] for name in names}

    lines = [
        "# Cross-universe protocol: results",
        "",
        "Written by `benchmarks/governor_protocol/run_protocol.py` (issue 21). Each universe "
        "is evaluated with the calibration chosen on the universes of the *other* data "
        "sources (leave one data source out); the candidates are the grid of "
        "`candidates.py`, measured on each stored baseline with the project's tuning sweep. "
        "Data: `data/PROVENANCE.md`. Criteria per universe: NORMAL >= 40%, CRISIS <= 10%, "
        "months flagged <= 35%, no STRESS/CRISIS spell over 504 sessions, MaxDD better "
        "than the baseline and than control (b); timing_skill not a failure on two thirds. "
        "Rerun: `.venv/bin/python benchmarks/governor_protocol/run_protocol.py --work "
        "/tmp/protocol` (about 20 minutes; `--reuse` keeps the baselines built).",
        "",
        f"Run by `run_protocol.py` ({len(names)} universes, {len(candidates)} calibrations, "
        f"{time.perf_counter() - started:.0f} s on a shared 2-core machine).",
        "",
        "## Out of calibration (leave one data source out)",
        "",
        *table(held_out, chosen),
        "",
        *verdict(held_out),
        "",
        f"## The default chosen on all universes: `{default_name}` (in sample)",
        "",
        *table(in_sample, dict.fromkeys(names, default_name)),
        "",
        *verdict(in_sample),
        "",
        f"## Before: the project's default until issue 21 (`{order[0]}`, "
        "calibration scale_free_v1)",
        "",
        *table(today, dict.fromkeys(names, order[0])),
        "",
        *verdict(today),
        "",
        "## Targets",
        "",
    ]
    for label, rows in (("default", in_sample), ("before", today)):
        demo, sp500 = rows.get("demo"), rows.get("sp500")
        if demo:
            lines.append(
                f"- {label}, demo: governor {pct(demo['governor_max_drawdown'], 2)} / "
                f"{demo['governor_sharpe']:.3f} against (b) "
                f"{pct(demo['vol_matched_max_drawdown'], 2)} and (c) "
                f"{pct(demo['vol_target_max_drawdown'], 2)}, Sharpe loss "
                f"{demo['baseline_sharpe'] - demo['governor_sharpe']:.3f} (<= 0.05): "
                f"{'met' if meets_demo_target(demo) else 'MISSED'}"
            )
        if sp500:
            lines.append(
                f"- {label}, S&P 500 1991-2022: {pct(sp500['window_max_drawdown'], 1)} / "
                f"{sp500['window_sharpe']:.3f} (buy and hold "
                f"{pct(sp500['window_baseline_max_drawdown'], 1)} / "
                f"{sp500['window_baseline_sharpe']:.3f}); target better than -35% at >= 0.55: "
                f"{'met' if meets_sp500_target(sp500) else 'MISSED'}; stretch -27% / 0.58: "
                f"{'met' if meets_sp500_target(sp500, SP500_STRETCH) else 'missed'}"
            )
    lines += ["", "Default calibration (a governor-config file applies it to any run):", ""]
    lines += ["```json", json.dumps(default.document(), indent=2), "```"]
    if args.confirm:
        confirmed = confirm(universes, work, default)
        lines += ["", "## Confirmed through the CLI (two-pass audit, the audit's own flags)", ""]
        flags = sorted({f for c in confirmed.values() for f in c["flags"]})
        lines += ["| universe | " + " | ".join(flags) + " |", "|" + "---|" * (len(flags) + 1)]
        for name, c in confirmed.items():
            lines.append(f"| {name} | " + " | ".join(c["flags"].get(f, "") for f in flags) + " |")
    text = "\n".join(lines) + "\n"
    args.results.write_text(text)
    # the chosen calibration as a file `--governor-config` applies to any run
    (HERE / "chosen_governor.json").write_text(json.dumps(default.document(), indent=2) + "\n")
    (work / "protocol.json").write_text(
        json.dumps({"results": results, "chosen": chosen, "default": default_name}, default=str)
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
