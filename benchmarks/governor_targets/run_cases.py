"""Issue 12's targets for the default governor, measured through the CLI.

Three cases, each an `allocator two-pass` in a subprocess (the installed
console script next to this interpreter) on one throwaway database, with the
project's defaults (no allocator var is given: the default calibration and
cadence are what is measured):

* demo       the bundled demo, core_v1 2005-01-03 .. 2022-12-28;
* sp500      the bundled S&P 500 index as a returns-only book
             (``--portfolio-returns``), features from the first return
             (1990-01-03), figures on 1991-01-02 .. 2022-12-28;
* synthetic  a universe whose calm pairwise correlation is 0.8
             (``python -m allocator.synthetic --calm-correlation 0.8``), traded
             by the built-in strategy (core_v1), the generator's true regimes
             read from its sidecar;
* synthetic_ew  the same universe held equal weight, long only (a weights
             file): the book of benchmarks/governor_study.

After each two-pass the published marts and artifacts are read (read-only)
and every figure is checked against its target. Exit status 1 if any check
fails. Definitions follow benchmarks/governor_study (RESULTS.md): MaxDD from
wealth 1.0, Sharpe with rf 0 and ddof 1 x sqrt(252), transitions a year =
regime changes x 252 / classified dates, S/C = STRESS or CRISIS, a crisis
spell (true regime, >= 20 sessions) is flagged if any of its days is S/C.

    .venv/bin/python benchmarks/governor_targets/run_cases.py [--work DIR] [--cases demo sp500]

Checks that need marts other helpers build are added to CASE_CHECKS (see
demo_controls: the governor against the controls of marts.two_pass_controls).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from allocator.database import use_published_schemas
from allocator.layers import regime_frame, rules_from_frame

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
SESSIONS_PER_YEAR = 252
STRESSED = ("STRESS", "CRISIS")
REGIMES = ("NORMAL", "ELEVATED", "STRESS", "CRISIS")
# the S&P 500 figures are measured where the study measured them
SP500_WINDOW = ("1991-01-02", "2022-12-28")
SYNTHETIC = {"symbols": 20, "days": 8000, "calm_correlation": 0.8}
# the first seeds, not chosen: one draw of the regime chain can hold few
# crisis spells (the generator's default seed 7: 2% of days, three spells of
# 20+ sessions), so the targets are judged over several
SYNTHETIC_SEEDS = (0, 1, 2, 3, 4)
MIN_SPELL_SESSIONS = 20


@dataclass(frozen=True)
class Check:
    """One measured figure against its target."""

    case: str
    name: str
    value: float | None
    target: str
    passed: bool | None  # None: reported, not a target

    def row(self) -> str:
        verdict = {True: "met", False: "MISSED", None: "-"}[self.passed]
        shown = "n/a" if self.value is None else f"{self.value:.4g}"
        return f"| {self.case} | {self.name} | {shown} | {self.target} | {verdict} |"


@dataclass
class CaseRun:
    """What a case ran: its run ids, window of measurement and extra files."""

    name: str
    scaled_run_id: str
    cli_args: list[str]
    kind: str = ""
    measure_from: str | None = None
    measure_to: str | None = None
    true_regimes: Path | None = None
    seconds: float = 0.0
    baseline_run_id: str = ""
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- inputs


def sp500_returns_file(work: Path) -> Path:
    """The bundled index closes as a returns-only book: date, portfolio_return."""
    path = work / "sp500_returns.csv"
    duckdb.sql(
        f"""copy (
            select date, close / lag(close) over (order by date) - 1 as portfolio_return
            from '{DEMO / "sp500_index.parquet"}'
            qualify portfolio_return is not null
            order by date
        ) to '{path}' (header)"""
    )
    return path


def synthetic_files(work: Path, seed: int) -> dict[str, Path]:
    """The high-correlation universe, written by the project's own generator."""
    out = work / f"synthetic_{seed}"
    command = [
        sys.executable,
        "-m",
        "allocator.synthetic",
        "--symbols",
        str(SYNTHETIC["symbols"]),
        "--days",
        str(SYNTHETIC["days"]),
        "--seed",
        str(seed),
        "--calm-correlation",
        str(SYNTHETIC["calm_correlation"]),
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    files = {
        "prices": out / "synthetic_prices.parquet",
        "benchmark": out / "synthetic_index.parquet",
        "regimes": out / "synthetic_regimes.csv",
    }
    # equal weight, long only, reset on the first session of every month
    files["weights"] = out / "synthetic_equal_weights.csv"
    duckdb.sql(
        f"""copy (
            with firsts as (
                select min(date) as date from '{files["prices"]}'
                group by date_trunc('month', date)
            )
            select firsts.date, prices.symbol, 1.0 / count(*) over (partition by firsts.date)
                as weight
            from firsts inner join '{files["prices"]}' as prices using (date)
            order by 1, 2
        ) to '{files["weights"]}' (header)"""
    )
    return files


def window_of(prices: Path) -> tuple[str, str]:
    """Two years of the file warm the strategy up (it needs 312 sessions of
    history); the run covers the rest."""
    ((first, last),) = duckdb.sql(f"select min(date), max(date) from '{prices}'").fetchall()
    return str(first.replace(year=first.year + 2)), str(last)


def cases(work: Path, names: Sequence[str]) -> list[CaseRun]:
    chosen: list[CaseRun] = []
    if "demo" in names:
        chosen.append(
            CaseRun(
                "demo",
                "demo_scaled",
                ["--strategy-profile", "core_v1", "--start", "2005-01-03", "--end", "2022-12-28"],
            )
        )
    if "sp500" in names:
        returns = sp500_returns_file(work)
        chosen.append(
            CaseRun(
                "sp500",
                "sp500_scaled",
                [
                    "--strategy-profile",
                    "core_v1",
                    "--start",
                    "1990-01-03",
                    "--end",
                    SP500_WINDOW[1],
                    "--portfolio-returns",
                    str(returns),
                    "--benchmark",
                    "none",
                ],
                measure_from=SP500_WINDOW[0],
                measure_to=SP500_WINDOW[1],
            )
        )
    for seed in SYNTHETIC_SEEDS if {"synthetic", "synthetic_ew"} & set(names) else ():
        files = synthetic_files(work, seed)
        start, end = window_of(files["prices"])
        common = ["--strategy-profile", "core_v1", "--start", start, "--end", end]
        common += ["--prices", str(files["prices"]), "--benchmark", str(files["benchmark"])]
        for kind, extra in (
            ("synthetic", []),
            ("synthetic_ew", ["--weights", str(files["weights"])]),
        ):
            if kind in names:
                name = f"{kind}_s{seed}"
                chosen.append(
                    CaseRun(
                        name,
                        f"{name}_scaled",
                        [*common, *extra],
                        kind=kind,
                        true_regimes=files["regimes"],
                    )
                )
    return chosen


# --------------------------------------------------------------------------- running


def cli_environment(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ALLOCATOR_PROJECT_DIR": str(ROOT),
        "ALLOCATOR_HOME": str(work),
        "ALLOCATOR_DUCKDB_PATH": str(work / "targets.duckdb"),
        "ALLOCATOR_REPORTS_DIR": str(work / "reports"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DO_NOT_TRACK": "1",
    }


def allocator_command() -> list[str]:
    script = Path(sys.executable).with_name("allocator")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "allocator.cli"]


def run_two_pass(case: CaseRun, env: Mapping[str, str], log: Path) -> None:
    command = [
        *allocator_command(),
        "two-pass",
        *case.cli_args,
        "--scaled-run-id",
        case.scaled_run_id,
        "--tag",
        case.name,
        "--replace",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=dict(env), cwd=ROOT, capture_output=True, text=True)
    case.seconds = time.perf_counter() - started
    log.write_text(" ".join(command) + "\n\n" + result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise SystemExit(f"{case.name}: allocator two-pass failed, see {log}")


# --------------------------------------------------------------------------- measures


def book_figures(returns: pd.Series) -> dict[str, float]:
    """MaxDD (wealth from 1.0) and Sharpe (rf 0, ddof 1) of daily returns."""
    wealth = (1.0 + returns).cumprod()
    peak = wealth.cummax().clip(lower=1.0)
    return {
        "max_drawdown": float((wealth / peak - 1.0).min()),
        "sharpe": float(returns.mean() / returns.std(ddof=1) * math.sqrt(SESSIONS_PER_YEAR)),
    }


def daily_returns(con: Any, run_id: str, first: str | None, last: str | None) -> pd.Series:
    frame = con.execute(
        "select date, portfolio_return from portfolio_returns where run_id = ? "
        "and date between coalesce(cast(? as date), date '0001-01-01') "
        "and coalesce(cast(? as date), date '9999-12-31') order by date",
        [run_id, first, last],
    ).df()
    return frame.set_index(pd.to_datetime(frame["date"]))["portfolio_return"]


def regime_path(con: Any, run_id: str) -> pd.Series:
    frame = con.execute(
        "select date, regime from allocator_regime_v1 where run_id = ? order by date", [run_id]
    ).df()
    return frame.set_index(pd.to_datetime(frame["date"]))["regime"]


def regime_checks(con: Any, case: CaseRun) -> tuple[list[Check], pd.Series]:
    """Shares from marts.two_pass_regime_distribution, transitions a year from
    the changes the regime layer records."""
    shares = dict(
        con.execute(
            "select regime, pct from two_pass_regime_distribution where scaled_run_id = ?",
            [case.scaled_run_id],
        ).fetchall()
    )
    regimes = regime_path(con, case.scaled_run_id)
    changes = int((regimes != regimes.shift()).iloc[1:].sum())
    per_year = changes * SESSIONS_PER_YEAR / len(regimes)
    checks = [Check(case.name, f"share {name}", shares.get(name), "", None) for name in REGIMES]
    checks.append(Check(case.name, "transitions a year", per_year, "< 20", per_year < 20))
    return checks, regimes


def stressed_share(regimes: pd.Series, first: str, last: str) -> float:
    window = regimes.loc[first:last]
    return float(window.isin(STRESSED).mean()) if len(window) else float("nan")


def demo_checks(con: Any, case: CaseRun) -> list[Check]:
    checks, regimes = regime_checks(con, case)
    targets = {"NORMAL": 0.70, "ELEVATED": 0.20, "STRESS": 0.08, "CRISIS": 0.02}
    tolerance = {"NORMAL": 0.05, "ELEVATED": 0.05, "STRESS": 0.03, "CRISIS": 0.015}
    for index, name in enumerate(REGIMES):
        value = checks[index].value or 0.0
        checks[index] = Check(
            case.name,
            f"share {name}",
            value,
            f"about {targets[name]:.0%} (+/- {tolerance[name]:.1%})",
            abs(value - targets[name]) <= tolerance[name],
        )
    for label, first, last in (
        ("Q4 2008 in S/C", "2008-10-01", "2008-12-31"),
        ("March 2020 in S/C", "2020-03-01", "2020-03-31"),
    ):
        share = stressed_share(regimes, first, last)
        checks.append(Check(case.name, label, share, ">= 0.9", share >= 0.9))
    return checks + book_checks(con, case, targets=None) + demo_controls(con, case)


def book_checks(
    con: Any, case: CaseRun, targets: Mapping[str, tuple[str, Callable[[float], bool]]] | None
) -> list[Check]:
    """MaxDD and Sharpe of the scaled book and its baseline over the case's window."""
    checks = []
    for label, run_id in (("governor", case.scaled_run_id), ("baseline", case.baseline_run_id)):
        figures = book_figures(daily_returns(con, run_id, case.measure_from, case.measure_to))
        for metric, value in figures.items():
            target, rule = (targets or {}).get(f"{label} {metric}", ("", None))
            checks.append(
                Check(
                    case.name,
                    f"{label} {metric}",
                    value,
                    target,
                    None if rule is None else rule(value),
                )
            )
    return checks


def demo_controls(con: Any, case: CaseRun) -> list[Check]:
    """Issue 12: on the demo the governor beats controls (b) vol-matched
    constant and (c) vol target on MaxDD, and loses at most 0.05 of Sharpe to
    the baseline (marts.two_pass_controls, same cadence, lag and costs)."""
    books = {
        book: (max_drawdown, sharpe)
        for book, max_drawdown, sharpe in con.execute(
            "select book, max_drawdown, sharpe from two_pass_controls where scaled_run_id = ?",
            [case.scaled_run_id],
        ).fetchall()
    }
    governor_dd, governor_sharpe = books["governor"]
    checks = [
        Check(
            case.name,
            f"governor MaxDD minus control ({label}) MaxDD",
            governor_dd - books[book][0],
            "> 0 (governor better)",
            governor_dd > books[book][0],
        )
        for book, label in (("vol_matched", "b"), ("vol_target", "c"))
    ]
    checks.append(
        Check(
            case.name,
            "Sharpe lost to the baseline",
            books["baseline"][1] - governor_sharpe,
            "<= 0.05",
            books["baseline"][1] - governor_sharpe <= 0.05,
        )
    )
    checks += [
        Check(
            case.name,
            f"control ({label}) MaxDD / Sharpe",
            books[book][0],
            f"Sharpe {books[book][1]:.3f}",
            None,
        )
        for book, label in (("mean_scalar", "a"), ("vol_matched", "b"), ("vol_target", "c"))
    ]
    return checks


def sp500_checks(con: Any, case: CaseRun) -> list[Check]:
    checks, _ = regime_checks(con, case)
    measured_regimes = regime_path(con, case.scaled_run_id).loc[case.measure_from : case.measure_to]
    checks += [
        Check(
            case.name,
            f"share {name} (1991-2022)",
            float((measured_regimes == name).mean()),
            "",
            None,
        )
        for name in REGIMES
    ]
    return checks + book_checks(
        con,
        case,
        {
            "governor max_drawdown": ("better than -0.35", lambda v: v > -0.35),
            "governor sharpe": (">= 0.55", lambda v: v >= 0.55),
            "baseline max_drawdown": ("buy and hold, study -0.568", None),
            "baseline sharpe": ("buy and hold, study 0.507", None),
        },
    )


def crisis_spells(true_regimes: pd.Series) -> list[pd.DatetimeIndex]:
    """Runs of the generator's crisis regime of at least MIN_SPELL_SESSIONS."""
    crisis = true_regimes == "crisis"
    run_ids = (crisis != crisis.shift()).cumsum()
    spells = []
    for _, days in crisis[crisis].groupby(run_ids[crisis]):
        if len(days) >= MIN_SPELL_SESSIONS:
            spells.append(days.index)
    return spells


def synthetic_checks(con: Any, case: CaseRun) -> list[Check]:
    checks, regimes = regime_checks(con, case)
    normal, crisis = checks[0].value or 0.0, checks[3].value or 0.0
    # judged over the seeds (across_seeds); one seed's figures are reported
    checks[0] = Check(case.name, "share NORMAL", normal, "", None)
    checks[3] = Check(case.name, "share CRISIS", crisis, "", None)
    truth = pd.read_csv(case.true_regimes, parse_dates=["date"]).set_index("date")["regime"]
    truth = truth.loc[regimes.index.min() : regimes.index.max()]
    spells = crisis_spells(truth)
    flagged = [spell for spell in spells if regimes.reindex(spell).isin(STRESSED).any()]
    share = len(flagged) / len(spells) if spells else float("nan")
    checks.append(
        Check(
            case.name,
            f"crisis spells flagged ({len(flagged)} of {len(spells)})",
            share,
            "",
            None,
        )
    )
    calm = truth.reindex(regimes.index) == "calm"
    checks.append(
        Check(
            case.name,
            "true crisis days in S/C",
            float(regimes[~calm].isin(STRESSED).mean()),
            "",
            None,
        )
    )
    checks.append(
        Check(
            case.name, "true calm days in S/C", float(regimes[calm].isin(STRESSED).mean()), "", None
        )
    )
    checks.append(drawdown_hold(con, case))
    checks += reclassified_normal_shares(con, case)
    return checks + book_checks(con, case, targets=None)


def drawdown_hold(con: Any, case: CaseRun) -> Check:
    """Share of classified days on which the book's drawdown from its
    all-time high is beyond the STRESS rule's exit (-1.25 long-run vols, the
    same level in both calibrations): what keeps a book that lost a lot in
    STRESS through a long recovery, whatever the correlations do."""
    ((share,),) = con.execute(
        "with state as (select dd_level, avg(port_rvol_60d) over (order by date "
        "rows between unbounded preceding and current row) as long_run "
        "from allocator_state_v1 where run_id = ? and is_ready) "
        "select avg(case when dd_level / long_run <= -1.25 then 1.0 else 0.0 end) from state",
        [case.scaled_run_id],
    ).fetchall()
    return Check(case.name, "days in drawdown beyond -1.25 long-run vols", share, "", None)


def reclassified_normal_shares(con: Any, case: CaseRun) -> list[Check]:
    """Diagnosis, not a target: the published state re-classified (the
    project's own classifier) with the run's calibration without its
    drawdown rules, and with the seeds' rules (absolute correlation levels),
    so what decides the NORMAL share is visible. The derived inputs are
    rebuilt as int_allocator_regime_input builds them."""
    state = con.execute(
        "select * from allocator_state_v1 where run_id = ? and is_ready order by date",
        [case.scaled_run_id],
    ).df()
    long_run = state["port_rvol_60d"].expanding().mean()
    state["rvol_ratio_long_run"] = state["port_rvol_20d"] / long_run
    state["dd_vol_units"] = state["dd_level"] / long_run
    rules = pd.read_csv(ROOT / "seeds" / "allocator_regime_rules.csv")
    variants = {
        "scale_free_v1 without drawdown rules": rules[
            (rules["calibration"] == "scale_free_v1") & (rules["feature"] != "dd_vol_units")
        ],
        "seeds_v1 rules": rules[rules["calibration"] == "seeds_v1"],
    }
    # the rebuild is faithful: the full calibration gives the published path
    full = regime_frame(
        state, rules_from_frame(rules[rules["calibration"] == "scale_free_v1"]), min_days=5
    )
    published = regime_path(con, case.scaled_run_id)
    agreement = float((full["regime"].to_numpy() == published.to_numpy()).mean())
    checks = [Check(case.name, "re-classified = published path", agreement, "1", agreement == 1)]
    for label, chosen in variants.items():
        parsed = rules_from_frame(chosen)
        regimes = regime_frame(state, parsed, min_days=5)["regime"]
        for name in ("NORMAL", "CRISIS"):
            share = float((regimes == name).mean())
            checks.append(Check(case.name, f"{name} if re-classified: {label}", share, "", None))
    return checks


CASE_CHECKS: dict[str, Callable[[Any, CaseRun], list[Check]]] = {
    "demo": demo_checks,
    "sp500": sp500_checks,
    "synthetic": synthetic_checks,
    "synthetic_ew": synthetic_checks,
}


def measure(db: Path, case: CaseRun) -> list[Check]:
    with duckdb.connect(str(db), read_only=True) as con:
        use_published_schemas(con)
        ((baseline, calibration, cadence),) = con.execute(
            "select p.baseline_run_id, "
            "json_extract_string(r.config_json, '$.regime_calibration.name'), "
            "json_extract_string(r.config_json, '$.allocator_v1.cadence') "
            "from two_pass_pairs as p inner join runs as r on r.run_id = p.scaled_run_id "
            "where p.scaled_run_id = ?",
            [case.scaled_run_id],
        ).fetchall()
        case.baseline_run_id = baseline
        case.notes.append(f"calibration {calibration}, cadence {cadence}")
        return CASE_CHECKS[case.kind or case.name](con, case)


# --------------------------------------------------------------------------- output


def across_seeds(checks: Sequence[Check]) -> list[Check]:
    """The synthetic targets over all seeds of a book, as the study judged
    them: mean NORMAL >= 50%, mean CRISIS <= 5%, every crisis spell flagged."""
    summary = []
    for kind in ("synthetic", "synthetic_ew"):
        mine = [c for c in checks if c.case.rsplit("_s", 1)[0] == kind]
        if not mine:
            continue

        def values(prefix: str, rows: Sequence[Check] = mine) -> list[float]:
            return [c.value for c in rows if c.name.startswith(prefix) and c.value is not None]

        normal, crisis = values("share NORMAL"), values("share CRISIS")
        flagged = [c.name for c in mine if c.name.startswith("crisis spells flagged")]
        hit = sum(int(n.split("(")[1].split(" of ")[0]) for n in flagged)
        total = sum(int(n.split(" of ")[1].rstrip(")")) for n in flagged)
        name = f"{kind} ({len(normal)} seeds)"
        mean_normal, mean_crisis = sum(normal) / len(normal), sum(crisis) / len(crisis)
        summary += [
            Check(name, "mean share NORMAL", mean_normal, ">= 0.50", mean_normal >= 0.50),
            Check(name, "min share NORMAL", min(normal), "", None),
            Check(name, "mean share CRISIS", mean_crisis, "<= 0.05", mean_crisis <= 0.05),
            Check(name, "max share CRISIS", max(crisis), "", None),
            Check(
                name,
                f"crisis spells flagged ({hit} of {total})",
                hit / total if total else None,
                "all (study: 0.97)",
                total > 0 and hit == total,
            ),
        ]
    return summary


def report(runs: Sequence[CaseRun], checks: Sequence[Check]) -> str:
    lines = ["| case | figure | value | target | verdict |", "|---|---|---|---|---|"]
    lines += [check.row() for check in checks]
    lines.append("")
    for case in runs:
        window = f", measured {case.measure_from} .. {case.measure_to}" if case.measure_from else ""
        lines.append(
            f"* {case.name}: runs {case.baseline_run_id} / {case.scaled_run_id}, "
            f"{'; '.join(case.notes)}{window}; two-pass {case.seconds:.0f} s"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="database, reports and logs (default: temp)")
    parser.add_argument("--cases", nargs="+", default=list(CASE_CHECKS), choices=list(CASE_CHECKS))
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="read the runs a previous call stored in --work instead of running them again",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="governor_targets_"))
    work.mkdir(parents=True, exist_ok=True)
    env = cli_environment(work)
    runs = cases(work, args.cases)
    checks: list[Check] = []
    for case in runs:
        if not args.measure_only:
            print(f"{case.name}: allocator two-pass ...", flush=True)
            run_two_pass(case, env, work / f"{case.name}.log")
        checks += measure(work / "targets.duckdb", case)
    checks += across_seeds(checks)
    text = report(runs, checks)
    print(text)
    (work / "results.md").write_text(text + "\n", encoding="utf-8")
    (work / "results.json").write_text(
        json.dumps([asdict(check) for check in checks], indent=2), encoding="utf-8"
    )
    print(f"\nwork folder: {work}")
    return 1 if any(check.passed is False for check in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
