"""The `allocator` command: runs, the two-pass audit, regime reports and
exports on top of the dbt project, with dbt running in this process.

    allocator run --strategy-profile P --start D --end D [--run-id ID]
                  [--mode off|compute|precomputed] [--precomputed-run-id ID]
                  [--prices F] [--benchmark F|none] [--weights F | --portfolio-returns F]
    allocator two-pass --strategy-profile P --start D --end D
                  [--baseline-run-id ID] [--scaled-run-id ID] [--tag T]
                  [--prices F] [--benchmark F|none] [--weights F | --portfolio-returns F]
    allocator regime-report --run-id ID
    allocator export --run-id ID
    allocator demo

Paths: ALLOCATOR_PROJECT_DIR (default: this repository), ALLOCATOR_DUCKDB_PATH
(default: allocator.duckdb in the project), ALLOCATOR_REPORTS_DIR (default:
reports/ in the project; --reports-dir overrides).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from allocator import validate, workflow
from allocator.errors import AllocatorError
from allocator.summary import comparison_markdown

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
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


def _window_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--strategy-profile",
        required=required,
        help="a profile of seeds/strategy_profiles.csv, e.g. core_v1",
    )
    parser.add_argument("--start", required=required, help="first date, YYYY-MM-DD")
    parser.add_argument("--end", required=required, help="last date, YYYY-MM-DD")


def _input_options(parser: argparse.ArgumentParser) -> None:
    inputs = parser.add_argument_group(
        "input files (CSV or Parquet, long format; default: the bundled demo data)"
    )
    inputs.add_argument(
        "--prices", dest="prices_path", metavar="FILE", help="closes: date, symbol, close"
    )
    inputs.add_argument(
        "--benchmark",
        dest="benchmark_path",
        metavar="FILE|none",
        help="benchmark closes, same layout; 'none' for no benchmark",
    )
    # one own book at most: target weights or daily returns
    book = inputs.add_mutually_exclusive_group()
    book.add_argument(
        "--weights",
        dest="weights_path",
        metavar="FILE",
        help="your own book: date, symbol, weight[, sleeve] (replaces the built-in sleeves)",
    )
    book.add_argument(
        "--portfolio-returns",
        dest="portfolio_returns_path",
        metavar="FILE",
        help="your own book as daily returns: date, portfolio_return",
    )


def _inputs(args: argparse.Namespace) -> dict[str, str]:
    given = {var: getattr(args, var, None) for var in validate.INPUT_OPTIONS}
    return validate.input_vars(given, Path.cwd())


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Allocator v1 on dbt + DuckDB: runs, the two-pass audit and its reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        parents=[common],
        help="build one run and export it",
        description="Build one run (dbt build: models and tests), "
        "write reports/runs/<run_id>/ and print the allocator summary.",
    )
    _window_options(run, required=True)
    run.add_argument(
        "--run-id", help="default: <profile>_<YYYYMMDD>_<YYYYMMDD>_<base|compute|scaled>"
    )
    run.add_argument(
        "--mode",
        choices=validate.MODES,
        help="allocator_v1.mode (default off; precomputed if --precomputed-run-id)",
    )
    run.add_argument("--precomputed-run-id", help="the stored run whose scalars to apply")
    _input_options(run)
    _test_option(run)

    two_pass = commands.add_parser(
        "two-pass",
        parents=[common],
        help="baseline, scaled run and their comparison",
        description="Pass 1: baseline run (allocator off), unless --baseline-run-id names a "
        "stored one. Pass 2: the same run with the baseline's precomputed scalars. Then the "
        "comparison: two_pass_comparison.{json,md,html} in the scaled run's folder.",
    )
    _window_options(two_pass, required=False)
    two_pass.add_argument(
        "--baseline-run-id", help="reuse this stored baseline (skips pass 1); default: a new one"
    )
    two_pass.add_argument(
        "--scaled-run-id",
        help="default: <profile>_<start>_<end>_scaled (with input options: "
        "<profile>_<start>_<end>_in<hash of the paths>_scaled)",
    )
    two_pass.add_argument("--tag", help="suffix added to generated run ids")
    _input_options(two_pass)
    _test_option(two_pass)

    regime = commands.add_parser(
        "regime-report", parents=[common], help="regime distribution and transitions of a run"
    )
    regime.add_argument("--run-id", required=True)
    regime.add_argument("--top", type=int, default=10, help="transitions to list (default 10)")

    export = commands.add_parser(
        "export", parents=[common], help="write a stored run's artifacts to reports/runs/<run_id>/"
    )
    export.add_argument("--run-id", required=True)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help=f"two-pass on the demo data ({workflow.DEMO_PROFILE}, "
        f"{workflow.DEMO_START} to {workflow.DEMO_END})",
    )
    _test_option(demo)
    return parser


def _emit(text: str) -> None:
    print(text, flush=True)


def _window(args: argparse.Namespace) -> tuple[str | None, object, object]:
    start = validate.parse_date(args.start, "--start") if args.start else None
    end = validate.parse_date(args.end, "--end") if args.end else None
    if start and end:
        validate.check_window(start, end)
    return args.strategy_profile, start, end


def _cmd_run(args: argparse.Namespace, settings: workflow.Settings) -> None:
    profile, start, end = _window(args)
    mode = validate.resolve_mode(args.mode, args.precomputed_run_id)
    suffix = {"off": "base", "compute": "compute", "precomputed": "scaled"}[mode]
    inputs = _inputs(args)
    run_id = args.run_id or validate.default_run_id(profile, start, end, suffix, None, inputs)
    validate.check_run_id(run_id)
    request = workflow.RunRequest(
        run_id,
        profile,
        start,
        end,
        mode,
        args.precomputed_run_id,
        inputs=tuple(sorted(inputs.items())),
    )
    workflow.run(settings, request, _emit)


def _cmd_two_pass(
    args: argparse.Namespace,
    settings: workflow.Settings,
    defaults: tuple[str, str] | None = None,
) -> None:
    profile, start, end = _window(args)
    tag = validate.check_tag(args.tag) if args.tag else None
    inputs = _inputs(args)
    if args.baseline_run_id:
        validate.check_run_id(args.baseline_run_id, "--baseline-run-id")
        baseline = workflow.baseline_request(
            settings, args.baseline_run_id, profile, start, end, inputs
        )
    else:
        missing = [
            name
            for name, value in (("--strategy-profile", profile), ("--start", start), ("--end", end))
            if not value
        ]
        if missing:
            raise AllocatorError(
                f"two-pass needs {', '.join(missing)} (or --baseline-run-id to reuse a stored "
                "baseline)"
            )
        base_id = (
            defaults[0]
            if defaults
            else validate.default_run_id(profile, start, end, "base", tag, inputs)
        )
        baseline = workflow.RunRequest(
            validate.check_run_id(base_id, "baseline run id"),
            profile,
            start,
            end,
            inputs=tuple(sorted(inputs.items())),
        )
    scaled_id = args.scaled_run_id or (
        defaults[1]
        if defaults
        else validate.default_run_id(
            baseline.strategy_profile,
            baseline.start,
            baseline.end,
            "scaled",
            tag,
            dict(baseline.inputs),
        )
    )
    validate.check_run_id(scaled_id, "--scaled-run-id")
    started = time.perf_counter()
    comparison = workflow.two_pass(
        settings, baseline, scaled_id, _emit, reuse_baseline=bool(args.baseline_run_id)
    )
    _emit("")
    _emit(comparison_markdown(comparison))
    _emit(workflow.result_locations(settings, scaled_id))
    _emit(f"two-pass finished in {time.perf_counter() - started:.1f} s")


def _cmd_demo(args: argparse.Namespace, settings: workflow.Settings) -> None:
    args.strategy_profile = workflow.DEMO_PROFILE
    args.start = workflow.DEMO_START.isoformat()
    args.end = workflow.DEMO_END.isoformat()
    args.baseline_run_id = args.scaled_run_id = args.tag = None
    _cmd_two_pass(
        args, settings, defaults=(workflow.DEMO_BASELINE_RUN_ID, workflow.DEMO_SCALED_RUN_ID)
    )


def _cmd_regime_report(args: argparse.Namespace, settings: workflow.Settings) -> None:
    validate.check_run_id(args.run_id)
    _emit(workflow.regime_report_text(settings, args.run_id, args.top))


def _cmd_export(args: argparse.Namespace, settings: workflow.Settings) -> None:
    validate.check_run_id(args.run_id)
    workflow.export(settings, args.run_id, _emit)


COMMANDS = {
    "run": _cmd_run,
    "two-pass": _cmd_two_pass,
    "regime-report": _cmd_regime_report,
    "export": _cmd_export,
    "demo": _cmd_demo,
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
    try:
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
