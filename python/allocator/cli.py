"""The `allocator` command: a thin argument layer over the Python API
(allocator.api), which does the work: runs, the two-pass audit, tuning,
regime reports and exports on top of the dbt project, with dbt running in
this process.

    allocator run [--prices F] [--benchmark F|none] [--weights F | --portfolio-returns F]
                  [--strategy-profile P] [--start D] [--end D] [--run-id ID] [--tag T]
                  [--mode off|compute|precomputed] [--precomputed-run-id ID]
                  [--governor-config F | --calibration NAME] [--replace] [--no-tests]
    allocator two-pass [--prices F] [--benchmark F|none] [--weights F | --portfolio-returns F]
                  [--strategy-profile P] [--start D] [--end D] [--tag T]
                  [--baseline-run-id ID] [--scaled-run-id ID]
                  [--governor-config F | --calibration NAME] [--replace] [--no-tests]
    allocator check FILE [--kind prices|benchmark|weights|portfolio-returns]
                  [--strategy-profile P]
    allocator tune --run-id BASE [--grid FILE] [--objective calmar|sharpe|maxdd]
                  [--min-sharpe X] [--walk-forward YEARS] [--tuning-id ID] [--output FILE]
                  [--override-limits]
    allocator regime-report --run-id ID [--top N]
    allocator export --run-id ID
    allocator snapshot
    allocator runs [--json]
    allocator delete --run-id ID [--with-dependents]
    allocator compare A B [--out-dir DIR]      (stored run ids or exported run folders)
    allocator demo [--calibration NAME] [--no-tests]
    allocator init DIR
    allocator --version

Input files are CSV or Parquet, wide (date, one column per symbol) or long
(the data contracts); --start defaults to the earliest valid start, --end to
the data's last date. Options are spelled out in full (no abbreviations); an
unknown option or command is named with the closest known one. While dbt
runs, a progress line shows the nodes done and the seconds elapsed (dbt's
own log with --verbose).

Paths: ALLOCATOR_PROJECT_DIR (default: this repository), ALLOCATOR_DUCKDB_PATH
(default: allocator.duckdb in the project), ALLOCATOR_REPORTS_DIR (default:
reports/ in the project; --reports-dir overrides).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import os
import re
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import allocator
from allocator import api, progress, run_config, validate, workflow
from allocator.errors import AllocatorError
from allocator.summary import comparison_markdown

PACKAGE_ROOT = api.PACKAGE_ROOT
# argparse reads these as values, not options (--top -1)
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


def package_version() -> str:
    """The installed package's version; allocator.__version__ when not installed."""
    try:
        return importlib.metadata.version("allocator")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(allocator, "__version__", "unknown"))


class Parser(argparse.ArgumentParser):
    """argparse, stricter and more helpful about option names.

    * No prefix abbreviations: `--baseline` is not `--baseline-run-id` and
      `--no-test` not `--no-tests` (allow_abbrev=False; subparsers made by
      add_subparsers are of this class, so they get it too).
    * An unknown option or command is the error reported, with the closest
      known spelling ("did you mean --strategy-profile?"), before argparse
      would complain about required options the typo left missing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        self.check_names(args)
        return super().parse_known_args(args, namespace)

    def check_names(self, args: Sequence[str]) -> None:
        """Exit (code 2) on the first unknown option or command in ``args``."""
        commands = self._commands()
        unknown = None
        skip = 0
        for position, token in enumerate(args):
            if skip:  # the value of the option before
                skip -= 1
                continue
            if token == "--":
                break
            if token.startswith("-") and len(token) > 1 and not _NEGATIVE_NUMBER.match(token):
                action = self._option_action(token)
                if action is None:
                    unknown = unknown or token
                elif isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                    return  # argparse shows the help or version whatever else is given
                elif "=" not in token and (action.nargs is None or isinstance(action.nargs, int)):
                    skip = 1 if action.nargs is None else action.nargs
            elif commands is not None:
                if unknown:
                    break
                if token not in commands.choices:
                    self.error(_unknown_command(token, list(commands.choices)))
                subparser = commands.choices[token]
                if isinstance(subparser, Parser):
                    subparser.check_names(args[position + 1 :])
                return
        if unknown:
            self.error(self._unknown_option(unknown, commands))

    def _commands(self) -> argparse._SubParsersAction | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
        return None

    def _option_action(self, token: str) -> argparse.Action | None:
        if token.startswith("--"):
            return self._option_string_actions.get(token.split("=", 1)[0])
        # -v, or short flags run together (-vh)
        return self._option_string_actions.get(token[:2])

    def _unknown_option(self, token: str, commands: argparse._SubParsersAction | None) -> str:
        name = token.split("=", 1)[0] if token.startswith("--") else token
        message = f"unknown option {name}"
        guess = self.suggest_option(name, close=False)
        if guess is None and commands is not None:
            # a command's option given before the command
            for command, subparser in commands.choices.items():
                known = isinstance(subparser, Parser) and subparser.suggest_option(name, False)
                if known:
                    return f"{message}; options go after the command: {self.prog} {command} {known}"
        guess = guess or self.suggest_option(name)
        return f"{message}; did you mean {guess}?" if guess else message

    def suggest_option(self, name: str, close: bool = True) -> str | None:
        """The known option ``name`` stands for, or (``close``) the closest one."""
        options = list(self._option_string_actions)
        spelled = name.lower().replace("_", "-")
        if spelled in options:  # --strategy_profile, --run_id, --START
            return spelled
        # the dbt var spelling: --prices_path is --prices, --baseline_run_id --baseline-run-id
        dest = name.lstrip("-").lower().replace("-", "_")
        for action in self._actions:
            if action.option_strings and action.dest == dest:
                return max(action.option_strings, key=len)
        if not close:
            return None
        # compared without the dashes, which would make any two names look alike
        pool = {o.lstrip("-"): o for o in options if o.startswith("--") == spelled.startswith("--")}
        guesses = difflib.get_close_matches(spelled.lstrip("-"), list(pool), n=1)
        return pool[guesses[0]] if guesses else None


def _unknown_command(token: str, commands: list[str]) -> str:
    guesses = difflib.get_close_matches(token.lower(), commands, n=1)
    if guesses:
        return f"unknown command {token!r}; did you mean {guesses[0]}?"
    return f"unknown command {token!r}; choose from {', '.join(commands)}"


def _common_options() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument(
        "--project-dir",
        help="the dbt project (default: $ALLOCATOR_PROJECT_DIR or this repository)",
    )
    common.add_argument(
        "--reports-dir",
        help="where reports/runs/<run_id>/ goes "
        "(default: $ALLOCATOR_REPORTS_DIR or <project>/reports)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="show dbt's own log output")
    return common


def _test_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-tests",
        action="store_true",
        help="build seeds and models without their data and unit tests (faster; the "
        "tests are the acceptance checks: run them before trusting a result)",
    )


def _replace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replace",
        action="store_true",
        help="rebuild a stored run id even as a different run (kind, profile, window or "
        "inputs); a replaced baseline's comparisons are marked stale",
    )


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy-profile",
        help="a profile of seeds/strategy_profiles.csv (default core_v1; a --weights or "
        "--portfolio-returns book needs none: it runs as own_weights / own_returns)",
    )
    parser.add_argument(
        "--start", help="first date, YYYY-MM-DD (default: the earliest valid start, printed)"
    )
    parser.add_argument("--end", help="last date, YYYY-MM-DD (default: the data's last date)")
    parser.add_argument(
        "--tag", help="what generated run ids add (they are named after the profile or the file)"
    )
    parser.add_argument(
        "--risk-free-rate",
        metavar="RATE|FILE",
        help="what Sharpe and Sortino measure returns in excess of: an annual rate (0.02), or "
        "a CSV or Parquet file of annual rates (date, rate), each holding until the next "
        "(default 0)",
    )
    parser.add_argument(
        "--rebalance-calendar",
        choices=("sessions", "weekdays"),
        help="which session closes a rebalance period: sessions, the period's last in the "
        "file (default), or weekdays, known at the close (a live run's default; audit a live "
        "run with it)",
    )
    parser.add_argument(
        "--sleeve-scalars",
        metavar="NAME",
        help="scale each sleeve by its own scalar: a sleeve calibration of "
        "seeds/allocator_sleeve_scalars.csv (stage6_v1, flat_v1) or book (default: off, one "
        "scalar for the whole book; docs/sleeve_scalars.md)",
    )


def _input_options(parser: argparse.ArgumentParser) -> None:
    inputs = parser.add_argument_group(
        "input files (CSV or Parquet, wide or long; default: the bundled demo data)"
    )
    inputs.add_argument(
        "--prices",
        dest="prices_path",
        metavar="FILE",
        help="closes: date, symbol, close (long) or date, one column per symbol (wide)",
    )
    inputs.add_argument(
        "--benchmark",
        dest="benchmark_path",
        metavar="FILE|none",
        help="benchmark closes, same layouts; 'none' for no benchmark (the default with --prices)",
    )
    # one own book at most: target weights or daily returns
    book = inputs.add_mutually_exclusive_group()
    book.add_argument(
        "--weights",
        dest="weights_path",
        metavar="FILE",
        help="your own book: date, symbol, weight[, sleeve], or wide (replaces the sleeves)",
    )
    book.add_argument(
        "--portfolio-returns",
        dest="portfolio_returns_path",
        metavar="FILE",
        help="your own book as daily returns: date, portfolio_return",
    )


def _governor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--governor-config",
        metavar="FILE",
        help="a whole governor (regime rules, scalar map, min_days, alpha, floor, cap, "
        "cadence) as JSON, e.g. the file `allocator tune` writes; part of the run's config hash",
    )
    _calibration_option(parser)


def _calibration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calibration",
        metavar="NAME",
        help="a named governor calibration: rows of seeds/allocator_regime_rules.csv and "
        f"allocator_regime_scalars.csv (default {run_config.DEFAULT_CALIBRATION}; also e.g. "
        "scale_free_v1, seeds_v1); not with --governor-config, which replaces the whole governor",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = Parser(
        prog="allocator",
        description="Allocator v1 on dbt + DuckDB: runs, the two-pass audit and its reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    # parser_class: every subparser is a Parser too (no abbreviations, "did you mean")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    run = commands.add_parser(
        "run",
        parents=[common],
        help="build one run and export it",
        description="Build one run (dbt build: models and tests), "
        "write reports/runs/<run_id>/ and print the allocator summary.",
    )
    _window_options(run)
    _governor_option(run)
    run.add_argument(
        "--run-id",
        help="default: <profile or file stem>_<YYYYMMDD>_<YYYYMMDD>_<base|compute|scaled>[_<tag>]",
    )
    run.add_argument(
        "--mode",
        choices=validate.MODES,
        help="allocator_v1.mode (default off; precomputed if --precomputed-run-id)",
    )
    run.add_argument("--precomputed-run-id", help="the stored run whose scalars to apply")
    run.add_argument(
        "--live",
        action="store_true",
        help="store the run as a live run that `allocator update` appends sessions to "
        "(default mode compute)",
    )
    _input_options(run)
    _test_option(run)
    _replace_option(run)

    two_pass = commands.add_parser(
        "two-pass",
        parents=[common],
        help="baseline, scaled run and their comparison",
        description="Pass 1: baseline run (allocator off), unless --baseline-run-id names a "
        "stored one. Pass 2: the same run with the baseline's precomputed scalars. Then the "
        "comparison: two_pass_comparison.{json,md,html} in the scaled run's folder.",
    )
    _window_options(two_pass)
    _governor_option(two_pass)
    two_pass.add_argument(
        "--baseline-run-id",
        help="reuse this stored baseline (skips pass 1; with a --governor-config other than "
        "its own, pass 1 rebuilds it under that governor); default: a new one",
    )
    two_pass.add_argument(
        "--scaled-run-id",
        help="default: <profile or file stem>_<start>_<end>_scaled[_<tag>]",
    )
    _input_options(two_pass)
    _test_option(two_pass)
    _replace_option(two_pass)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="check an input file without building anything",
        description="Read one input file (CSV or Parquet, wide or long) as a run would: its "
        "layout, rows, date range, symbols, the first problem staging would refuse it for "
        "and, for prices, the earliest valid start of a profile. Exit code 1 on a problem.",
    )
    check.add_argument("file", metavar="FILE")
    check.add_argument(
        "--kind",
        choices=("prices", "benchmark", "weights", "portfolio-returns"),
        default="prices",
        help="what the file holds (default prices)",
    )
    check.add_argument(
        "--strategy-profile", help="the profile whose earliest valid start to give (core_v1)"
    )

    regime = commands.add_parser(
        "regime-report", parents=[common], help="regime distribution and transitions of a run"
    )
    regime.add_argument("--run-id", required=True)
    regime.add_argument("--top", type=int, default=10, help="transitions to list (default 10)")

    export = commands.add_parser(
        "export", parents=[common], help="write a stored run's artifacts to reports/runs/<run_id>/"
    )
    export.add_argument("--run-id", required=True)

    commands.add_parser(
        "snapshot",
        parents=[common],
        help="write every marts.* table to <reports>/marts/<table>.parquet for BI and notebooks",
        description="Write each published mart (marts.*) to <reports>/marts/<table>.parquet, "
        "atomically (a temporary file, then a rename), so readers never open the database "
        "file. two-pass and run do this after each pass; use it after a plain `dbt build`.",
    )

    runs = commands.add_parser(
        "runs",
        parents=[common],
        help="list the stored runs, their headline metrics and whether their files are current",
        description="List the runs stored in the database (read-only): id, kind, profile, "
        "window, mode, cadence, created, CAGR, vol, Sharpe, MaxDD, comparison status and "
        "whether reports/runs/<run_id>/ holds the stored run's export (current, stale, missing).",
    )
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")

    delete = commands.add_parser(
        "delete",
        parents=[common],
        help="delete a stored run from the database and its reports folder",
        description="Remove every row of a run from every published table (artifacts.*, "
        "marts.*) in one transaction, then its reports/runs/<run_id>/ folder. A baseline "
        "that stored scaled runs or tunings use is refused unless --with-dependents deletes "
        "them too.",
    )
    delete.add_argument("--run-id", required=True)
    delete.add_argument(
        "--with-dependents",
        "--with-scaled",
        dest="with_scaled",
        action="store_true",
        help="also delete the scaled runs and tunings built on this baseline (same transaction)",
    )

    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="compare any two runs (stored run ids or exported run folders)",
        description="Compare run B with run A: metrics (B - A), the top drawdown periods "
        "and, when both have them, regime figures. A and B are stored run ids or exported run "
        "folders (reports/runs/<run_id>/). Writes run_comparison.{json,md,html} to --out-dir "
        "(default <reports>/compare/<A>_vs_<B>/) and prints the markdown.",
    )
    compare.add_argument("a", metavar="A", help="the reference run: a run id or an export folder")
    compare.add_argument("b", metavar="B", help="the run compared with it")
    compare.add_argument("--out-dir", help="where the three files go")

    tune = commands.add_parser(
        "tune",
        parents=[common],
        help="sweep governor configurations over a stored baseline",
        description="Sweep a grid of governor configurations (regime thresholds, min_days, "
        "scalar map, EWMA alpha, floor, cap, cadence) over a stored baseline run, validate "
        "the choice walk-forward (yearly, expanding window) with the deflated Sharpe ratio "
        "and the PBO, and write the chosen configuration (for run --governor-config), the "
        "summary and the report to <reports>/tuning/<tuning_id>/.",
    )
    tune.add_argument("--run-id", required=True, help="the stored baseline run to sweep")
    tune.add_argument(
        "--grid",
        metavar="FILE",
        help="grid file, CSV rows or JSON axes (default: data/tuning/default_grid.json, "
        "1,296 configurations)",
    )
    tune.add_argument(
        "--objective",
        choices=("calmar", "sharpe", "maxdd"),
        default="calmar",
        help="what the choice maximises among admissible configurations (default calmar; "
        "maxdd: the shallowest drawdown with Sharpe >= --min-sharpe)",
    )
    tune.add_argument("--min-sharpe", type=float, help="objective maxdd's minimum Sharpe (0.5)")
    tune.add_argument(
        "--walk-forward",
        type=int,
        metavar="YEARS",
        help="calendar years before the first yearly re-selection (default 3)",
    )
    tune.add_argument("--tuning-id", help="default: <run-id>_<objective>")
    tune.add_argument(
        "--override-limits",
        action="store_true",
        help="allow a grid above 10,000 configurations (up to 200,000) and up to 26 CSCV blocks",
    )
    tune.add_argument(
        "--output",
        metavar="FILE",
        help="where the chosen governor configuration goes "
        "(default: <reports>/tuning/<tuning_id>/governor_config.json)",
    )

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help=f"two-pass on the demo data ({workflow.DEMO_PROFILE}, "
        f"{workflow.DEMO_START} to {workflow.DEMO_END})",
    )
    _calibration_option(demo)
    _test_option(demo)

    init = commands.add_parser(
        "init",
        help="write an editable copy of the dbt project (seeds, models, demo data) to DIR",
        description="Write the dbt project to DIR (new or empty). Edit it (e.g. "
        "seeds/strategy_profiles.csv), then run any command with --project-dir DIR or "
        "ALLOCATOR_PROJECT_DIR=DIR; results then go to DIR unless ALLOCATOR_HOME says otherwise.",
    )
    # dest project_dir: main() resolves the settings with DIR as the project,
    # so init never copies the packaged project into the current directory
    init.add_argument("project_dir", metavar="DIR", help="where to write the project")
    init.set_defaults(reports_dir=None, verbose=False)

    update = commands.add_parser(
        "update",
        parents=[common],
        help="append a file's new sessions to a live run",
        description="Append the sessions the file has after the live run's last one "
        "(dbt build of the run's models with var live_update, from its stored state), "
        "write reports/runs/<run_id>/next_session_targets.{csv,json} and print the "
        "desk's summary line. A file that skips a session, goes backwards or revises a "
        "stored close is refused; --restate-from recomputes from a date.",
    )
    update.add_argument("--run-id", required=True, help="the live run")
    update.add_argument(
        "--end", help="last date to append, YYYY-MM-DD (default: the file's last date)"
    )
    update.add_argument(
        "--restate-from",
        metavar="DATE",
        help="recompute the run from this date on with the file's closes (a data revision)",
    )
    update.add_argument(
        "--alert-scalar-move",
        type=float,
        default=None,
        metavar="X",
        help="print an ALERT line when the next session's scalar moves by more than X "
        "(default 0.05)",
    )
    update.add_argument(
        "--tests",
        action="store_true",
        help="also run the data tests (the acceptance checks) on the update's build",
    )
    _input_options(update)
    return parser


def _emit(text: str) -> None:
    print(text, flush=True)


def _dates(args: argparse.Namespace) -> tuple[Any, Any]:
    start = validate.parse_date(args.start, "--start") if args.start else None
    end = validate.parse_date(args.end, "--end") if args.end else None
    if start and end:
        validate.check_window(start, end)
    return start, end


def _book(args: argparse.Namespace) -> dict[str, Any]:
    """The API's book arguments from the command line."""
    start, end = _dates(args)
    return {
        "prices": args.prices_path,
        "benchmark": args.benchmark_path,
        "weights": args.weights_path,
        "portfolio_returns": args.portfolio_returns_path,
        "strategy_profile": args.strategy_profile,
        "start": start,
        "end": end,
        "tag": args.tag,
        "governor_config": args.governor_config,
        "calibration": args.calibration,
        "risk_free_rate": args.risk_free_rate,
        "rebalance_calendar": args.rebalance_calendar,
        "sleeve_scalars": args.sleeve_scalars,
        "replace": args.replace,
    }


def _cmd_run(args: argparse.Namespace, settings: workflow.Settings) -> None:
    api.execute_run(
        settings,
        **_book(args),
        run_id=args.run_id,
        mode=args.mode,
        precomputed_run_id=args.precomputed_run_id,
        live=args.live,
        log=_emit,
    )


def _inputs(args: argparse.Namespace) -> dict[str, str]:
    """The input-file vars an update reads, as absolute paths."""
    given = {var: getattr(args, var, None) for var in validate.INPUT_OPTIONS}
    return validate.input_vars(given, Path.cwd())


def _cmd_update(args: argparse.Namespace, settings: workflow.Settings) -> None:
    from allocator import live_workflow

    validate.check_run_id(args.run_id)
    alert = (
        live_workflow.DEFAULT_SCALAR_ALERT
        if args.alert_scalar_move is None
        else args.alert_scalar_move
    )
    if alert < 0:
        raise AllocatorError(f"--alert-scalar-move {alert:g} is negative: use a number >= 0")
    request = live_workflow.UpdateRequest(
        args.run_id,
        inputs=tuple(sorted(_inputs(args).items())),
        end=validate.parse_date(args.end, "--end") if args.end else None,
        restate_from=validate.parse_date(args.restate_from, "--restate-from")
        if args.restate_from
        else None,
        scalar_alert=alert,
        run_tests=args.tests,
    )
    live_workflow.update(settings, request, _emit)


def _cmd_two_pass(
    args: argparse.Namespace,
    settings: workflow.Settings,
    defaults: tuple[str, str] | None = None,
) -> None:
    started = time.perf_counter()
    audit = api.execute_two_pass(
        settings,
        **_book(args),
        baseline_run_id=args.baseline_run_id,
        scaled_run_id=args.scaled_run_id,
        default_ids=defaults,
        log=_emit,
    )
    _emit("")
    _emit(comparison_markdown(audit.comparison))
    _emit(workflow.result_locations(settings, audit.scaled_run_id))
    _emit(f"two-pass finished in {time.perf_counter() - started:.1f} s")


def _cmd_demo(args: argparse.Namespace, settings: workflow.Settings) -> None:
    args.strategy_profile = workflow.DEMO_PROFILE
    args.start = workflow.DEMO_START.isoformat()
    args.end = workflow.DEMO_END.isoformat()
    args.baseline_run_id = args.scaled_run_id = args.tag = None
    args.prices_path = args.benchmark_path = args.weights_path = None
    args.portfolio_returns_path = args.governor_config = args.risk_free_rate = None
    args.rebalance_calendar = args.sleeve_scalars = None
    args.replace = False
    _cmd_two_pass(
        args, settings, defaults=(workflow.DEMO_BASELINE_RUN_ID, workflow.DEMO_SCALED_RUN_ID)
    )


def _cmd_check(args: argparse.Namespace, settings: workflow.Settings) -> None:
    checked = api.check(
        args.file,
        kind=args.kind.replace("-", "_"),
        strategy_profile=args.strategy_profile,
        settings=settings,
    )
    _emit(checked.text())
    if not checked.ok:
        raise AllocatorError(f"{args.file}: {len(checked.problems)} problem(s), see above")


def _cmd_tune(args: argparse.Namespace, settings: workflow.Settings) -> None:
    from allocator import tune

    request = tune.request(
        args.run_id,
        args.tuning_id,
        args.grid,
        args.objective,
        args.min_sharpe,
        args.walk_forward,
        args.output,
        args.override_limits,
    )
    tune.tune(settings, request, _emit)


def _cmd_regime_report(args: argparse.Namespace, settings: workflow.Settings) -> None:
    _emit(api.regime_report(args.run_id, top=args.top, settings=settings))


def _cmd_snapshot(args: argparse.Namespace, settings: workflow.Settings) -> None:
    api.snapshot(log=_emit, settings=settings)


def _cmd_export(args: argparse.Namespace, settings: workflow.Settings) -> None:
    api.export(args.run_id, log=_emit, settings=settings)


def _cmd_runs(args: argparse.Namespace, settings: workflow.Settings) -> None:
    from allocator import runs

    stored = api.stored_runs(settings, log=_emit)
    _emit(runs.runs_json(stored) if args.json else runs.format_table(stored))


def _cmd_compare(args: argparse.Namespace, settings: workflow.Settings) -> None:
    compared = api.compare(args.a, args.b, out_dir=args.out_dir, log=_emit, settings=settings)
    _emit(compared.markdown)
    _emit("\n".join(["Written:", *(f"  {path}" for path in compared.paths)]))


def _cmd_delete(args: argparse.Namespace, settings: workflow.Settings) -> None:
    api.delete(args.run_id, with_scaled=args.with_scaled, log=_emit, settings=settings)


def _cmd_init(args: argparse.Namespace, settings: workflow.Settings) -> None:
    from allocator import project_files

    # the checkout this package runs from, else the project the wheel carries
    source = (
        PACKAGE_ROOT
        if project_files.is_checkout(PACKAGE_ROOT)
        else project_files.packaged_project()
    )
    if source is None:
        raise AllocatorError("this installation carries no dbt project: reinstall the package")
    written = project_files.init_project(settings.project_dir, source)
    _emit(f"wrote the allocator dbt project to {settings.project_dir} ({len(written)} files)")
    _emit(
        "edit it (seeds/strategy_profiles.csv, models/, ...), then run e.g. "
        f"`allocator demo --project-dir {settings.project_dir}` or set "
        f"ALLOCATOR_PROJECT_DIR={settings.project_dir}; results go to that directory"
    )


COMMANDS = {
    "run": _cmd_run,
    "update": _cmd_update,
    "two-pass": _cmd_two_pass,
    "check": _cmd_check,
    "tune": _cmd_tune,
    "regime-report": _cmd_regime_report,
    "export": _cmd_export,
    "snapshot": _cmd_snapshot,
    "runs": _cmd_runs,
    "delete": _cmd_delete,
    "compare": _cmd_compare,
    "demo": _cmd_demo,
    "init": _cmd_init,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `allocator` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    settings = workflow.resolve_settings(
        os.environ,
        PACKAGE_ROOT,
        args.project_dir,
        args.reports_dir,
        args.verbose,
        run_tests=not getattr(args, "no_tests", False),
    )
    # a progress line per dbt pass, unless dbt's own log is shown
    reporting = nullcontext() if args.verbose else progress.reporting(sys.stdout)
    try:
        with reporting:
            COMMANDS[args.command](args, settings)
    except AllocatorError as exc:
        print(f"allocator {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"allocator {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
