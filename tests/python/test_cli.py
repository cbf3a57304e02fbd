"""The allocator CLI without dbt: argument validation, error messages, the
pure formatting and export helpers, and the locked-database check."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from tests.conftest import FIXTURE_INPUTS, run_dbt

import allocator
from allocator import cli, database, dbt_invoke, exports, progress, summary, validate, workflow
from allocator.errors import AllocatorError

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at a scratch database and reports folder."""
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(tmp_path / "cli.duckdb"))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("ALLOCATOR_PROJECT_DIR", str(PROJECT_DIR))
    return tmp_path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------
# argument validation: every error says what is wrong and what would be right
# --------------------------------------------------------------------------

WINDOW = ["--strategy-profile", "core_v1", "--start", "2010-01-04", "--end", "2012-12-31"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [
                "run",
                "--strategy-profile",
                "core_v1",
                "--start",
                "2012-01-02",
                "--end",
                "2011-01-03",
            ],
            "--end 2011-01-03 is before --start 2012-01-02: the window must run forward",
        ),
        (
            [
                "run",
                "--strategy-profile",
                "core_v1",
                "--start",
                "2012-13-01",
                "--end",
                "2013-01-02",
            ],
            "--start '2012-13-01' is not a valid calendar date",
        ),
        (
            [
                "run",
                "--strategy-profile",
                "core_v1",
                "--start",
                "01/02/2012",
                "--end",
                "2013-01-02",
            ],
            "--start '01/02/2012' is not a date: use YYYY-MM-DD",
        ),
        (
            ["run", *WINDOW, "--run-id", "bad id!"],
            "--run-id 'bad id!' is not valid: use 1-64 letters, digits",
        ),
        (
            ["run", *WINDOW, "--mode", "precomputed"],
            "--mode precomputed needs --precomputed-run-id",
        ),
        (
            ["run", *WINDOW, "--mode", "compute", "--precomputed-run-id", "base"],
            "--precomputed-run-id is only used with --mode precomputed",
        ),
        (
            [
                "run",
                "--strategy-profile",
                "core_v99",
                "--start",
                "2010-01-04",
                "--end",
                "2012-12-31",
            ],
            "strategy profile 'core_v99' is not defined in seeds/strategy_profiles.csv; "
            "known profiles: core_only_v1, core_v1,",
        ),
        # issue 22: a window outside the data is refused with the valid range
        (
            ["two-pass", "--start", "1990-01-02"],
            "start 1990-01-02 is too early (1991-03-27 is the earliest: 312 sessions after the "
            "first date",
        ),
        (
            ["run", "--end", "2023-06-30"],
            "end 2023-06-30 is after the data's last date 2022-12-28; valid for core_v1 on "
            "sp500_prices.parquet: start 1991-03-27 to 2022-12-27, end up to 2022-12-28",
        ),
        (
            ["run", "--strategy-profile", "own_weights"],
            "strategy profile own_weights is for a book of your own (weights)",
        ),
        (["two-pass", *WINDOW, "--tag", "a/b"], "--tag 'a/b' is not valid"),
        (
            ["two-pass", *WINDOW, "--scaled-run-id", "core_v1_20100104_20121231_base"],
            "equals the baseline run id",
        ),
        (["regime-report", "--run-id", "_x"], "--run-id '_x' is not valid"),
        (["two-pass", *WINDOW, "--prices", "nope.parquet"], "--prices nope.parquet: no such file"),
        (["run", *WINDOW, "--benchmark", "index.txt"], "--benchmark index.txt: use a .csv or"),
        # issue 21: a calibration is a name the regime seeds define, nothing else
        (
            ["run", *WINDOW, "--calibration", "nope"],
            "calibration 'nope' is not defined in seeds/allocator_regime_rules.csv and "
            "seeds/allocator_regime_scalars.csv; known calibrations: scale_free_v1, seeds_v1, "
            "trailing_dd_v1",
        ),
        (
            ["two-pass", *WINDOW, "--calibration", "{{ run_query('drop schema marts') }}"],
            "calibration '{{ run_query('drop schema marts') }}' is not defined in",
        ),
        (["demo", "--calibration", "Scale_Free_v1"], "calibration 'Scale_Free_v1' is not"),
        (["run", *WINDOW, "--calibration", "seeds_v1\n"], "calibration 'seeds_v1\\n' is not"),
        (
            ["two-pass", *WINDOW, "--calibration", "seeds_v1", "--governor-config", "g.json"],
            "--calibration and --governor-config both set the governor",
        ),
    ],
)
def test_invalid_arguments_fail_before_dbt(
    argv: list[str], expected: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 1
    assert expected in err
    assert err.startswith(f"allocator {argv[0]}: error: ")
    assert "Traceback" not in err + out
    # nothing was built: the database was not even created
    assert not (env / "cli.duckdb").exists()


def test_argparse_rejects_an_unknown_mode(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", *WINDOW, "--mode", "sometimes"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_argparse_takes_one_own_book(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["two-pass", *WINDOW, "--weights", "w.csv", "--portfolio-returns", "r.csv"])
    assert exit_info.value.code == 2
    assert "--portfolio-returns: not allowed with argument --weights" in capsys.readouterr().err
    with pytest.raises(AllocatorError, match="give --weights or --portfolio-returns, not both"):
        validate.input_vars({"weights_path": "w.csv", "portfolio_returns_path": "r.csv"}, env)


def test_input_file_paths(tmp_path: Path) -> None:
    upper = tmp_path / "CLOSES.PARQUET"
    upper.write_bytes(b"")
    assert validate.input_file("CLOSES.PARQUET", "--prices", tmp_path) == str(upper)
    # a quote is data (quoted where it reaches SQL); a glob character is refused
    quoted = tmp_path / "o'brien"
    quoted.mkdir()
    (quoted / "closes.csv").write_text("date,symbol,close\n")
    assert validate.input_file("o'brien/closes.csv", "--prices", tmp_path) == str(
        quoted / "closes.csv"
    )
    (tmp_path / "prices[1].csv").write_text("date,symbol,close\n")
    with pytest.raises(AllocatorError, match="contains \\[ \\], which DuckDB would expand"):
        validate.input_file("prices[1].csv", "--prices", tmp_path)


def test_unknown_run_id_lists_known_ones(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with duckdb.connect(str(env / "cli.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs as select * from (values ('base'), ('scaled')) t(run_id)"
        )
    for command in (["regime-report", "--run-id", "nope"], ["export", "--run-id", "nope"]):
        code, _, err = run_cli(command, capsys)
        assert code == 1
        assert "run id 'nope' is not in the runs table of" in err
        assert "known run ids: base, scaled" in err


def test_missing_database_says_how_to_make_one(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["export", "--run-id", "base"], capsys)
    assert code == 1
    assert f"database file {env / 'cli.duckdb'} does not exist" in err
    assert "run `allocator run`" in err


def test_baseline_run_id_must_exist(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with duckdb.connect(str(env / "cli.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.runs as select 'base' as run_id")
    code, _, err = run_cli(["two-pass", "--baseline-run-id", "gone"], capsys)
    assert code == 1
    assert "--baseline-run-id: run id 'gone' is not in the runs table" in err
    assert "known run ids: base" in err


STORED_INPUTS = {
    "prices_path": "data/demo/sp500_prices.parquet",
    "benchmark_path": "",
    "weights_path": "",
    "portfolio_returns_path": "",
}


def test_baseline_with_another_window_is_refused(env: Path) -> None:
    with duckdb.connect(str(env / "cli.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs as select 'base' as run_id, 'core_v1' as strategy_profile, "
            "date '2005-01-03' as start_date, date '2022-12-28' as end_date, ? as config_json",
            [json.dumps({"inputs": STORED_INPUTS})],
        )
    settings = workflow.resolve_settings(
        {"ALLOCATOR_DUCKDB_PATH": str(env / "cli.duckdb")}, PROJECT_DIR
    )
    same = workflow.baseline_request(settings, "base", "core_v1", None, dt.date(2022, 12, 28))
    assert (same.strategy_profile, same.start, same.end) == (
        "core_v1",
        dt.date(2005, 1, 3),
        dt.date(2022, 12, 28),
    )
    # a relative path is relative to the project; the bundled defaults stay implicit
    assert same.inputs == (("benchmark_path", ""),)
    with pytest.raises(AllocatorError, match="--start 2010-01-04 \\(baseline: 2005-01-03\\)"):
        workflow.baseline_request(settings, "base", None, dt.date(2010, 1, 4), None)
    prices = str(PROJECT_DIR / "data" / "demo" / "sp500_prices.parquet")
    kept = workflow.baseline_request(settings, "base", None, None, None, {"prices_path": prices})
    assert kept.inputs == same.inputs
    with pytest.raises(AllocatorError, match="--prices /elsewhere.csv \\(baseline: /"):
        workflow.baseline_request(
            settings, "base", None, None, None, {"prices_path": "/elsewhere.csv"}
        )
    with pytest.raises(AllocatorError, match="--benchmark /index.csv \\(baseline: none\\)"):
        workflow.baseline_request(
            settings, "base", None, None, None, {"benchmark_path": "/index.csv"}
        )


def test_a_stored_baseline_keeps_its_named_calibration(env: Path) -> None:
    """A baseline stored under scale_free_v1 (the default until issue 21) is
    scaled in pass 2 with scale_free_v1, not today's default: the gate lets
    pass 2 reuse the baseline's layers only when the calibrations match."""
    stored = {
        "base_sf": {"inputs": STORED_INPUTS, "regime_calibration": {"name": "scale_free_v1"}},
        "base_gc": {"inputs": STORED_INPUTS, "regime_calibration": {"name": "governor_config"}},
        "base_old": {"inputs": STORED_INPUTS},
    }
    with duckdb.connect(str(env / "cli.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs (run_id varchar, strategy_profile varchar, "
            "start_date date, end_date date, config_json varchar)"
        )
        for run_id, config in stored.items():
            con.execute(
                "insert into marts.runs values (?, 'core_v1', date '2005-01-03', "
                "date '2022-12-28', ?)",
                [run_id, json.dumps(config)],
            )
    settings = workflow.resolve_settings(
        {"ALLOCATOR_DUCKDB_PATH": str(env / "cli.duckdb")}, PROJECT_DIR
    )
    request = workflow.baseline_request(settings, "base_sf", None, None, None)
    assert request.calibration == "scale_free_v1"
    assert request.dbt_vars()["allocator_v1"]["calibration"] == "scale_free_v1"
    for run_id in ("base_gc", "base_old"):
        request = workflow.baseline_request(settings, run_id, None, None, None)
        assert request.calibration is None
        assert "calibration" not in request.dbt_vars()["allocator_v1"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "two-pass", "regime-report", "export", "demo"):
        assert command in out


# --------------------------------------------------------------------------
# locked database
# --------------------------------------------------------------------------

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_locked_database_names_the_holder(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = env / "cli.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli(["run", *WINDOW], capsys)
        assert code == 1
        assert f"database file {db} is locked by another process (pid {holder.pid}" in err
        assert "close it or set ALLOCATOR_DUCKDB_PATH to another file" in err
        # reading is blocked too, with the same message
        code, _, err = run_cli(["export", "--run-id", "x"], capsys)
        assert code == 1
        assert f"is locked by another process (pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()


def test_lock_message_only_for_lock_errors() -> None:
    text = (
        'IO Error: Could not set lock on file "/x.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 4242). See also https://duckdb.org/docs/current/connect/concurrency"
    )
    message = database.lock_message(Path("/x.duckdb"), text)
    assert message == (
        "database file /x.duckdb is locked by another process (pid 4242, /usr/bin/python3.11) "
        "— close it or set ALLOCATOR_DUCKDB_PATH to another file"
    )
    assert database.lock_message(Path("/x.duckdb"), "IO Error: disk full") is None


# --------------------------------------------------------------------------
# settings, run ids, dbt command lines
# --------------------------------------------------------------------------


def test_settings_resolve_relative_paths_against_the_project(tmp_path: Path) -> None:
    settings = workflow.resolve_settings(
        {"ALLOCATOR_PROJECT_DIR": str(tmp_path), "ALLOCATOR_DUCKDB_PATH": "db/x.duckdb"},
        Path("/elsewhere"),
    )
    assert settings.project_dir == tmp_path
    assert settings.db_path == tmp_path / "db" / "x.duckdb"
    assert settings.reports_dir == tmp_path / "reports"
    assert settings.run_dir("r1") == tmp_path / "reports" / "runs" / "r1"
    override = workflow.resolve_settings(
        {"ALLOCATOR_REPORTS_DIR": "/env/reports"}, tmp_path, reports_dir="/opt/reports"
    )
    assert override.reports_dir == Path("/opt/reports")
    assert override.db_path == tmp_path / "allocator.duckdb"


def test_default_run_ids_are_deterministic() -> None:
    start, end = dt.date(2005, 1, 3), dt.date(2022, 12, 28)
    assert (
        validate.default_run_id("core_v1", start, end, "base", None)
        == "core_v1_20050103_20221228_base"
    )
    assert validate.default_run_id("core_v1", start, end, "scaled", "q4") == (
        "core_v1_20050103_20221228_scaled_q4"
    )
    # issue 22: own files name their runs (no opaque hash); a label is made safe
    assert validate.default_run_id("my closes", start, end, "base") == (
        "my_closes_20050103_20221228_base"
    )
    assert validate.run_label("../x y!") == "x_y"


def test_mode_resolution() -> None:
    assert validate.resolve_mode(None, None) == "off"
    assert validate.resolve_mode(None, "base") == "precomputed"
    assert validate.resolve_mode("compute", None) == "compute"


def test_run_vars_match_the_dbt_var_block() -> None:
    assert dbt_invoke.run_vars("s", "core_v1", "2005-01-03", "2022-12-28", "precomputed", "b") == {
        "run_id": "s",
        "strategy_profile": "core_v1",
        "start": "2005-01-03",
        "end": "2022-12-28",
        "allocator_v1": {"enabled": True, "mode": "precomputed", "precomputed_run_id": "b"},
    }
    assert dbt_invoke.run_vars("b", "p", "x", "y")["allocator_v1"] == {
        "enabled": False,
        "mode": "off",
    }


def test_dbt_args() -> None:
    args = dbt_invoke.dbt_args("build", Path("/p"), {"run_id": "x"}, extra=["--exclude", "tag:t"])
    assert args == [
        "build",
        "--project-dir",
        "/p",
        "--profiles-dir",
        "/p",
        "--no-write-json",
        "--vars",
        '{"run_id": "x"}',
        "--log-level",
        "none",
        "--log-level-file",
        "info",
        "--exclude",
        "tag:t",
    ]
    # no --vars at all for the default-vars parse, so dbt's partial parse stays valid
    assert "--vars" not in dbt_invoke.dbt_args("parse", Path("/p"), {}, verbose=True)
    assert "--log-level" not in dbt_invoke.dbt_args("parse", Path("/p"), {}, verbose=True)


def test_dbt_errors_are_cleaned() -> None:
    node = SimpleNamespace(
        resource_type="model",
        name="stg_run_config",
        original_file_path="models/staging/stg_run_config.sql",
    )
    error = SimpleNamespace(
        status=SimpleNamespace(value="error"),
        node=node,
        message=(
            "\x1b[31mCompilation Error in model stg_run_config "
            "(models/staging/stg_run_config.sql)\x1b[0m\n"
            "  strategy_profile 'x' is not defined in seeds/strategy_profiles.csv; known "
            "profiles: core_v1\n  \n  > in macro run_id (macros/run_config.sql)\n"
            "  > called by model stg_run_config (models/staging/stg_run_config.sql)"
        ),
    )
    test_node = SimpleNamespace(resource_type="test", name="not_null_x", original_file_path="m.yml")
    failure = SimpleNamespace(status="fail", node=test_node, message="Got 3 results", failures=3)
    ok = SimpleNamespace(status="success", node=node, message="OK")
    assert dbt_invoke.node_errors([ok, error, failure]) == [
        "model stg_run_config (models/staging/stg_run_config.sql): Compilation Error: "
        "strategy_profile 'x' is not defined in seeds/strategy_profiles.csv; "
        "known profiles: core_v1",
        "test not_null_x (m.yml): 3 failing row(s) — Got 3 results",
    ]
    assert dbt_invoke.status_counts([ok, error, failure]) == {"success": 1, "error": 1, "fail": 1}


def test_outcome_description() -> None:
    outcome = dbt_invoke.DbtOutcome("build", True, 4.24, {"success": 49, "pass": 210})
    assert outcome.describe() == "dbt build ok in 4.2 s: 210 pass, 49 success"


# --------------------------------------------------------------------------
# summary block, regime report, comparison markdown
# --------------------------------------------------------------------------


def test_allocator_summary_block() -> None:
    rebalances = [
        summary.RebalanceScalar("2020-02-28", 1.0, "NORMAL"),
        summary.RebalanceScalar("2020-03-16", 0.55, "CRISIS"),
        summary.RebalanceScalar("2020-03-23", 0.58, "CRISIS"),
        summary.RebalanceScalar("2020-04-06", 0.62, "STRESS"),
    ]
    text = summary.allocator_summary(
        "precomputed",
        "reports/runs/b/allocator_risk_v1_applied.csv",
        rebalances,
        top_n=2,
        cadence="daily",
        calibration="scale_free_v1",
    )
    assert text == "\n".join(
        [
            "=== ALLOCATOR v1 SUMMARY ===",
            "Mode: precomputed",
            "Cadence: daily",
            "Calibration: scale_free_v1",
            "Source: reports/runs/b/allocator_risk_v1_applied.csv",
            "Rebalances: 4 total",
            "Scaled (below 0.99): 3 (75.0%)",
            "Risk scalar: avg=0.69, min=0.55, max=1.00",
            "",
            "Top 2 de-risk events:",
            "  2020-03-16: 0.55 (CRISIS)",
            "  2020-03-23: 0.58 (CRISIS)",
        ]
    )
    empty = summary.allocator_summary("off", "none", [])
    assert "Rebalances: 0 total" in empty
    assert "  none (scalar never below 0.99)" in empty


def test_the_summary_names_the_features_a_book_lacks() -> None:
    """A returns-only or single-asset book says what it is classified without."""
    returns_only = "returns-only portfolio: no holdings, so no symbols to correlate"
    text = summary.allocator_summary(
        "off",
        "none",
        [],
        features_missing={
            "corr_20d": returns_only,
            "corr_60d": returns_only,
            "trend_breadth_20d": "returns-only portfolio: no sleeves or trend units",
        },
    )
    assert (
        "Features missing: corr_20d, corr_60d (returns-only portfolio: no holdings, so no "
        "symbols to correlate); trend_breadth_20d (returns-only portfolio: no sleeves or trend "
        "units); their regime rules are inert"
    ) in text.splitlines()
    assert not any(
        line.startswith("Features missing")
        for line in summary.allocator_summary("off", "none", []).splitlines()
    )


def test_only_a_material_cut_counts_as_scaling() -> None:
    # the EWMA creeps back towards 1 after a stress spell: a cut under 1% is
    # its tail, not de-risking (run_config.MATERIALLY_SCALED_BELOW)
    settled = 0.25 * 1.0 + 0.75 * 0.9999999999999998
    assert not summary.is_scaled(settled)
    assert not summary.is_scaled(1.0)
    assert not summary.is_scaled(None)
    assert not summary.is_scaled(0.995)
    assert summary.is_scaled(0.989)
    text = summary.allocator_summary(
        "precomputed",
        "x",
        [summary.RebalanceScalar("2020-01-31", settled, "NORMAL")],
    )
    assert "Scaled (below 0.99): 0 (0.0%)" in text


def test_regime_stats_gaps_and_islands() -> None:
    series = ["NORMAL", "NORMAL", "ELEVATED", "NORMAL", "NORMAL", "NORMAL", "ELEVATED", "ODD"]
    stats = {s.regime: s for s in summary.regime_stats(series)}
    assert stats["NORMAL"] == summary.RegimeStat("NORMAL", 5, 5 / 8, 3)
    assert stats["ELEVATED"] == summary.RegimeStat("ELEVATED", 2, 2 / 8, 1)
    assert stats["CRISIS"] == summary.RegimeStat("CRISIS", 0, 0.0, 0)
    assert stats["ODD"].days == 1
    assert summary.regime_changes(series) == {
        ("NORMAL", "ELEVATED"): 2,
        ("ELEVATED", "NORMAL"): 1,
        ("ELEVATED", "ODD"): 1,
    }


def test_regime_report_text() -> None:
    dates = [f"2020-01-{d:02d}" for d in range(1, 6)]
    text = summary.regime_report("r1", dates, ["NORMAL", "NORMAL", "STRESS", "STRESS", "NORMAL"])
    assert "Run r1: 5 days with a regime, 2020-01-01 to 2020-01-05" in text
    assert "  NORMAL   :     3 days ( 60.0%), max consecutive: 2 days" in text
    assert "  CRISIS   :     0 days (  0.0%)" in text
    assert "Transitions: 2 (100.8 per year)" in text
    assert "  NORMAL->STRESS           :   1" in text
    assert "no regime rows" in summary.regime_report("r1", [], [])


COMPARISON = {
    "baseline_run_id": "b",
    "scaled_run_id": "s",
    "strategy_profile": "core_v1",
    "start_date": "2005-01-03",
    "end_date": "2022-12-28",
    "metrics": [
        {"metric": "CAGR", "baseline": 0.0935, "scaled": 0.0882, "delta": -0.0053, "unit": "pct"},
        {"metric": "Sharpe", "baseline": 0.66, "scaled": 0.72, "delta": 0.06, "unit": "ratio"},
        {"metric": "MaxDD", "baseline": -0.1532, "scaled": -0.121, "delta": 0.0322, "unit": "pct"},
    ],
    "scalar_usage": {
        "rebalances_total": 145,
        "rebalances_scaled": 38,
        "pct_scaled": 38 / 145,
        "scalar_mean": 0.92,
        "scalar_min": 0.55,
        "scalar_max": 1.0,
    },
    "regimes": [{"regime": "NORMAL", "days": 892, "pct": 0.732, "longest_run_days": 300}],
    "flags": [{"flag": "maxdd_vs_baseline", "status": "good", "detail": "fine"}],
    "top_derisk_events": [{"date": "2020-03-16", "scalar": 0.55, "regime": "CRISIS"}],
    "transitions_per_year": 3.25,
    "transitions": [
        {"from_regime": "NORMAL", "to_regime": "ELEVATED", "transitions": 12},
    ],
}


def test_comparison_markdown_matches_the_seeds_table() -> None:
    text = summary.comparison_markdown(COMPARISON)
    assert "| Metric | Baseline | Scaled | Delta |" in text
    assert "| CAGR | 9.35% | 8.82% | -0.53% |" in text
    assert "| Sharpe | 0.66 | 0.72 | +0.06 |" in text
    assert "| MaxDD | -15.32% | -12.10% | +3.22% |" in text
    assert "- Rebalances scaled (scalar < 0.99): 38 (26.2%)" in text
    assert "## Regime transitions (3.2 per year)" in text
    assert "| NORMAL | ELEVATED | 12 |" in text
    assert "| 2020-03-16 | 0.55 | CRISIS |" in text
    assert "| maxdd_vs_baseline | good | fine |" in text


# --------------------------------------------------------------------------
# exports
# --------------------------------------------------------------------------


def test_export_columns_put_the_seed_layout_first() -> None:
    spec = exports.CsvExport("x.csv", "allocator_risk_v1", ("date", "risk_scalar"), ("date",))
    columns = exports.export_columns(
        spec, ["run_id", "date", "regime", "target_scalar", "risk_scalar"]
    )
    assert columns == ["date", "risk_scalar", "regime", "target_scalar"]
    only = exports.CsvExport(
        "p.csv",
        "portfolio_returns",
        ("date", "portfolio_return"),
        ("date",),
        renames={"portfolio_return": "ret"},
        only=True,
    )
    assert exports.export_columns(only, ["run_id", "date", "portfolio_return", "equity"]) == [
        "date",
        "portfolio_return",
    ]
    assert exports.export_query(only, ["date", "portfolio_return"], "o'k") == (
        'select "date", "portfolio_return" as "ret" from "portfolio_returns" '
        "where run_id = 'o''k' order by \"date\""
    )
    with pytest.raises(
        AllocatorError, match="table allocator_risk_v1 has no column\\(s\\) risk_scalar"
    ):
        exports.export_columns(spec, ["run_id", "date"])


def test_every_seed_file_name_is_exported() -> None:
    names = {spec.filename for spec in exports.CSV_EXPORTS} | {n for n, _ in exports.META_EXPORTS}
    assert names == {
        "allocator_state_v1.csv",
        "allocator_state_v1_meta.json",
        "allocator_regime_v1.csv",
        "allocator_regime_v1_meta.json",
        "allocator_risk_v1.csv",
        "allocator_risk_v1_meta.json",
        "allocator_risk_v1_applied.csv",
        "allocator_risk_v1_applied_meta.json",
        "weights_raw.csv",
        "weights_scaled.csv",
        "allocator_scalars_at_rebalances.csv",
        "portfolio_returns.csv",
        "equity_curve.csv",
        # not a seed file: the published metrics that `allocator compare` reads
        "run_metrics.csv",
        "run_risk_metrics.csv",
    }


def test_atomic_write_leaves_nothing_half_written(tmp_path: Path) -> None:
    target = tmp_path / "out" / "file.json"
    exports.atomic_write_text(target, json.dumps({"a": 1}))
    assert json.loads(target.read_text()) == {"a": 1}

    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        exports.atomic_write(target, fail)
    assert json.loads(target.read_text()) == {"a": 1}  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]  # no temp file left


def test_csv_export_round_trips_doubles(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("set search_path = 'marts'")
    con.execute(
        "create table marts.portfolio_returns as select 'r' as run_id, "
        "date '2020-01-02' + cast(i as integer) as date, "
        "(i * 0.1234567890123457 - 3) / 7 as portfolio_return from range(50) t(i)"
    )
    spec = exports.CSV_EXPORTS[
        [s.filename for s in exports.CSV_EXPORTS].index("portfolio_returns.csv")
    ]
    columns = exports.export_columns(spec, exports.table_columns(con, "portfolio_returns"))
    path = exports.write_csv(con, exports.export_query(spec, columns, "r"), tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "date,ret"
    stored = [
        r[0]
        for r in con.execute(
            "select portfolio_return from portfolio_returns order by date"
        ).fetchall()
    ]
    assert [float(line.split(",")[1]) for line in lines[1:]] == stored


# --------------------------------------------------------------------------
# command wiring (workflows replaced by recorders)
# --------------------------------------------------------------------------


def test_demo_runs_two_pass_on_the_demo_window(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []

    def fake_two_pass(settings, baseline, scaled_run_id, emit, reuse_baseline=False):
        calls.append((settings, baseline, scaled_run_id, reuse_baseline))
        return COMPARISON

    monkeypatch.setattr(workflow, "two_pass", fake_two_pass)
    code, out, _ = run_cli(["demo", "--no-tests"], capsys)
    assert code == 0
    settings, baseline, scaled_run_id, reuse = calls[0]
    assert baseline == workflow.RunRequest(
        "demo_base", "core_v1", dt.date(2005, 1, 3), dt.date(2022, 12, 28)
    )
    assert (scaled_run_id, reuse, settings.run_tests) == ("demo_scaled", False, False)
    assert f"database      {env / 'cli.duckdb'}" in out
    assert f"reports       {env / 'reports' / 'runs'}" in out
    assert str(env / "reports" / "runs" / "demo_scaled" / "two_pass_comparison.html") in out
    assert "| CAGR | 9.35% | 8.82% | -0.53% |" in out


@pytest.mark.parametrize(
    ("extra", "run_id", "mode", "source"),
    [
        ([], "core_v1_20100104_20121231_base", "off", None),
        (["--mode", "compute"], "core_v1_20100104_20121231_compute", "compute", None),
        (["--precomputed-run-id", "b1"], "core_v1_20100104_20121231_scaled", "precomputed", "b1"),
        (["--run-id", "mine", "--mode", "off"], "mine", "off", None),
    ],
)
def test_run_builds_the_requested_run(
    extra: list[str],
    run_id: str,
    mode: str,
    source: str | None,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests = []
    monkeypatch.setattr(workflow, "run", lambda settings, request, emit: requests.append(request))
    code, _, err = run_cli(["run", *WINDOW, *extra], capsys)
    assert code == 0, err
    assert requests == [
        workflow.RunRequest(
            run_id, "core_v1", dt.date(2010, 1, 4), dt.date(2012, 12, 31), mode, source
        )
    ]


@pytest.mark.parametrize("command", ["run", "live", "two-pass", "demo"])
def test_calibration_reaches_the_run_as_its_var(
    command: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from allocator import live_workflow

    requests = []
    monkeypatch.setattr(workflow, "run", lambda settings, request, emit: requests.append(request))
    monkeypatch.setattr(
        live_workflow, "start", lambda settings, request, emit: requests.append(request)
    )

    def fake_two_pass(settings, baseline, scaled_run_id, emit, reuse_baseline=False):
        requests.append(baseline)
        return COMPARISON

    monkeypatch.setattr(workflow, "two_pass", fake_two_pass)
    argv = {
        "run": ["run", *WINDOW],
        "live": ["run", *WINDOW, "--live"],
        "two-pass": ["two-pass", *WINDOW],
        "demo": ["demo"],
    }[command]
    code, _, err = run_cli([*argv, "--calibration", "scale_free_v1"], capsys)
    assert code == 0, err
    (request,) = requests
    assert request.calibration == "scale_free_v1"
    assert request.dbt_vars()["allocator_v1"]["calibration"] == "scale_free_v1"
    assert "governor_config" not in request.dbt_vars()


def test_without_calibration_the_var_keeps_its_default(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --calibration: the var is not set, so the gate's default applies
    (defined once, in models/run/_run__models.yml)."""
    requests = []
    monkeypatch.setattr(workflow, "run", lambda settings, request, emit: requests.append(request))
    code, _, err = run_cli(["run", *WINDOW], capsys)
    assert code == 0, err
    assert requests[0].calibration is None
    assert "calibration" not in requests[0].dbt_vars()["allocator_v1"]


def test_known_calibrations_are_those_of_both_seeds(tmp_path: Path) -> None:
    """A name in one seed only (rules without a map) is not a calibration a
    run can use; nor is a seed row run_config.CALIBRATIONS has no defaults for."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "allocator_regime_rules.csv").write_text(
        "calibration,feature\nscale_free_v1,x\nseeds_v1,x\nmine_v1,x\n", encoding="utf-8"
    )
    (seeds / "allocator_regime_scalars.csv").write_text(
        "calibration,regime\nscale_free_v1,NORMAL\nmine_v1,NORMAL\n", encoding="utf-8"
    )
    assert workflow.known_calibrations(tmp_path) == ["scale_free_v1"]
    assert workflow.known_calibrations(tmp_path / "missing") == []
    with pytest.raises(AllocatorError, match="known calibrations: none"):
        workflow.check_calibration(tmp_path / "missing", "scale_free_v1")
    assert workflow.known_calibrations(PROJECT_DIR) == [
        "scale_free_v1",
        "seeds_v1",
        "trailing_dd_v1",
    ]


@pytest.mark.parametrize(
    ("stored", "baseline_id", "reused"),
    [
        ("scale_free_v1", "base_x", True),
        ("trailing_dd_v1", "base_x_scale_free_v1", False),
        ("governor_config", "base_x_scale_free_v1", False),
    ],
)
def test_a_stored_baseline_under_another_calibration_is_rebuilt(
    stored: str,
    baseline_id: str,
    reused: bool,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The scalars come from pass 1: --calibration other than the stored
    baseline's rebuilds the baseline on its book under its own id, as a
    governor config does; the same calibration reuses it."""
    with duckdb.connect(str(env / "cli.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs (run_id varchar, strategy_profile varchar, "
            "start_date date, end_date date, config_json varchar)"
        )
        con.execute(
            "insert into marts.runs values ('base_x', 'core_v1', date '2005-01-03', "
            "date '2022-12-28', ?)",
            [json.dumps({"inputs": STORED_INPUTS, "regime_calibration": {"name": stored}})],
        )
    calls = []

    def fake_two_pass(settings, baseline, scaled_run_id, emit, reuse_baseline=False):
        calls.append((baseline, scaled_run_id, reuse_baseline))
        return COMPARISON

    monkeypatch.setattr(workflow, "two_pass", fake_two_pass)
    argv = ["two-pass", "--baseline-run-id", "base_x", "--calibration", "scale_free_v1"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    (baseline, scaled_run_id, reuse) = calls[0]
    assert (baseline.run_id, baseline.calibration, reuse) == (
        baseline_id,
        "scale_free_v1",
        reused,
    )
    assert scaled_run_id == f"{baseline_id}_scaled"
    assert ("pass 1 rebuilds the baseline" in out) is not reused


def test_input_files_become_absolute_dbt_vars(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dbt runs in the project directory: a file given relative to where the
    user is must reach it as an absolute path."""
    requests = []
    monkeypatch.setattr(workflow, "run", lambda settings, request, emit: requests.append(request))
    monkeypatch.chdir(PROJECT_DIR / "data")
    code, _, err = run_cli(
        ["run", *WINDOW, "--prices", "demo/sp500_prices.parquet", "--benchmark", "none"], capsys
    )
    assert code == 0, err
    prices = str(PROJECT_DIR / "data" / "demo" / "sp500_prices.parquet")
    (request,) = requests
    assert request.inputs == (("benchmark_path", ""), ("prices_path", prices))
    assert request.parse_vars() == {"benchmark_path": "", "prices_path": prices}
    assert request.dbt_vars()["prices_path"] == prices


# --------------------------------------------------------------------------
# what a failed pass says about the database
# --------------------------------------------------------------------------


def test_a_failed_pass_says_nothing_was_stored(tmp_path: Path) -> None:
    settings = workflow.Settings(PROJECT_DIR, tmp_path / "a.duckdb", tmp_path / "reports")
    failed = dbt_invoke.DbtOutcome("build", False, 1.0, {"fail": 1}, ("test y: 3 rows",))
    message = str(workflow.build_failure("pass 1/2 (baseline)", failed, settings, "g"))
    assert "test y: 3 rows" in message
    assert (
        f"Nothing was stored: run 'g' was not published; every run in {tmp_path / 'a.duckdb'} "
        "is as it was." in message
    )


# --------------------------------------------------------------------------
# --version, option names, progress, the input-file check (issue 14)
# --------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"allocator {importlib.metadata.version('allocator')}\n"
    # the console script's way: python -m, a real exit code
    result = subprocess.run(
        [sys.executable, "-m", "allocator.cli", "--version"], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"allocator {cli.package_version()}")


def test_version_falls_back_to_the_module_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    monkeypatch.setattr(allocator, "__version__", "9.8.7", raising=False)
    assert cli.package_version() == "9.8.7"
    monkeypatch.delattr(allocator, "__version__")
    assert cli.package_version() == "unknown"


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def test_no_parser_accepts_abbreviations() -> None:
    parsers = _parsers(cli.build_parser())
    assert len(parsers) > 5  # the top level and every command
    assert all(not p.allow_abbrev for p in parsers), [p.prog for p in parsers if p.allow_abbrev]
    # argparse itself, without the unknown-option check, takes --baseline as unknown
    two_pass = next(p for p in parsers if p.prog == "allocator two-pass")
    args, extras = argparse.ArgumentParser.parse_known_args(two_pass, ["--baseline", "b"])
    assert (args.baseline_run_id, extras) == (None, ["--baseline", "b"])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [
                "run",
                "--strategy_profile",
                "core_v1",
                "--start",
                "2005-01-03",
                "--end",
                "2022-12-28",
            ],
            "allocator run: error: unknown option --strategy_profile; "
            "did you mean --strategy-profile?",
        ),
        # abbreviations are unknown options
        (
            ["two-pass", "--baseline", "b"],
            "allocator two-pass: error: unknown option --baseline; did you mean --baseline-run-id?",
        ),
        (
            ["run", *WINDOW, "--no-test"],
            "allocator run: error: unknown option --no-test; did you mean --no-tests?",
        ),
        (["demo", "--no-test"], "allocator demo: error: unknown option --no-test; did you mean"),
        (["export", "--run", "x"], "allocator export: error: unknown option --run; did you mean"),
        (["--vers"], "allocator: error: unknown option --vers; did you mean --version?"),
        # the seeds' and dbt vars' underscore spellings
        (["export", "--run_id", "x"], "unknown option --run_id; did you mean --run-id?"),
        (
            ["two-pass", "--baseline_run_id", "b"],
            "unknown option --baseline_run_id; did you mean --baseline-run-id?",
        ),
        (
            ["run", *WINDOW, "--precomputed_run_id=b"],
            "unknown option --precomputed_run_id; did you mean --precomputed-run-id?",
        ),
        (["run", *WINDOW, "--prices_path", "p.csv"], "did you mean --prices?"),
        (["regime-report", "--run-id", "x", "--tpo", "3"], "--tpo; did you mean --top?"),
        (["run", "--frobnicate"], "allocator run: error: unknown option --frobnicate\n"),
        # a command's option before the command
        (
            ["--verbose", "run"],
            "allocator: error: unknown option --verbose; options go after the command: "
            "allocator run --verbose",
        ),
        # commands
        (["rn"], "allocator: error: unknown command 'rn'; did you mean run?"),
        (["two_pass"], "unknown command 'two_pass'; did you mean two-pass?"),
        (["frob"], "allocator: error: unknown command 'frob'; choose from run, two-pass, "),
    ],
)
def test_unknown_names_say_what_was_meant(
    argv: list[str], expected: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err
    # named instead of the required options the typo left missing
    assert "the following arguments are required" not in err
    assert not (env / "cli.duckdb").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["regime-report", "--run-id", "x", "--top", "-3"],  # a negative value, not an option
        ["run", *WINDOW, "--run-id=mine", "-v"],
        ["two-pass", "--tag", "t", "--baseline-run-id", "b"],
    ],
)
def test_known_names_pass_the_check(argv: list[str]) -> None:
    args = cli.build_parser().parse_args(argv)
    assert args.command == argv[0]


def test_help_wins_over_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--strategy_profile", "x", "--help"])
    assert exit_info.value.code == 0
    assert "--strategy-profile" in capsys.readouterr().out


def _fake_build(seen: list[list[object]]):
    """workflow.run replaced by one dbt pass of two nodes, fed to the reporter
    the way dbt_invoke.invoke hands it to dbt."""

    def run(settings, request, emit):
        callbacks = progress.current_callbacks("dbt build")
        seen.append(callbacks)
        for callback in callbacks:
            for index in (1, 2):
                callback(
                    SimpleNamespace(
                        info=SimpleNamespace(name="LogModelResult"),
                        data=SimpleNamespace(
                            index=index, total=2, node_info=SimpleNamespace(unique_id=f"m{index}")
                        ),
                    )
                )
            callback(SimpleNamespace(info=SimpleNamespace(name="CommandCompleted"), data=None))
        emit("pass done")

    return run


def test_dbt_passes_report_progress_unless_verbose(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[list[object]] = []
    monkeypatch.setattr(workflow, "run", _fake_build(seen))
    code, out, _ = run_cli(["run", *WINDOW], capsys)
    assert code == 0
    assert [type(c) for c in seen[0]] == [progress.Progress]
    # captured stdout is no terminal: plain lines, here only the final one
    assert out.splitlines()[0].startswith("dbt build: 2/2 nodes, ")
    assert out.splitlines()[1] == "pass done"
    # --verbose: dbt's own log instead
    code, out, _ = run_cli(["run", *WINDOW, "--verbose"], capsys)
    assert code == 0
    assert seen[1] == [] and out == "pass done\n"
    # outside a command nothing is reporting
    assert progress.current_callbacks() == []


@pytest.fixture(scope="module")
def check_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One work folder (database, target) for the check_input_file calls, so
    dbt parses the project once."""
    return tmp_path_factory.mktemp("check_input_file")


def check_input_file(path: str | Path, work: Path) -> subprocess.CompletedProcess[str]:
    return run_dbt(
        ["run-operation", "check_input_file", "--args", f"{{path: {path}}}"],
        work / "check.duckdb",
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.csv", "INVALID prices file 'missing.csv' does not exist"),
        (
            FIXTURE_INPUTS / "duplicate_row.csv",
            f"INVALID prices file '{FIXTURE_INPUTS / 'duplicate_row.csv'}': symbol AAA, "
            "date 2020-01-03: appears 2 times",
        ),
    ],
)
def test_check_input_file_fails_on_an_invalid_file(
    path: str, message: str, check_dir: Path
) -> None:
    result = check_input_file(path, check_dir)
    assert result.returncode != 0, result.stdout
    assert message in result.stdout
    assert "Compilation Error" in result.stdout


def test_check_input_file_passes_a_valid_file(check_dir: Path) -> None:
    good = FIXTURE_INPUTS / "good_prices.csv"
    result = check_input_file(good, check_dir)
    assert result.returncode == 0, result.stdout
    assert f"OK {good}" in result.stdout
    assert "INVALID" not in result.stdout


def test_comparison_markdown_ends_with_the_controls_and_timing_skill() -> None:
    controls = [
        {"book": "governor", "book_label": "governor (scaled run)", "exposure_rule": "risk_scalar",
         "exposure_parameter": None, "mean_exposure": 0.9233, "cagr": 0.0789, "ann_vol": 0.106,
         "sharpe": 0.7699, "max_drawdown": -0.1834, "worst_month": -0.0904,
         "worst_quarter": -0.0912, "governor_beats_max_drawdown": None,
         "governor_beats_sharpe": None},
        {"book": "vol_matched", "book_label": "(b) constant at the scaled run's vol",
         "exposure_rule": "constant", "exposure_parameter": 0.95884, "mean_exposure": 0.95884,
         "cagr": 0.0799, "ann_vol": 0.106, "sharpe": 0.7784, "max_drawdown": -0.1838,
         "worst_month": -0.0946, "worst_quarter": -0.0874,
         "governor_beats_max_drawdown": True, "governor_beats_sharpe": False},
    ]  # fmt: skip
    flags = [*COMPARISON["flags"], {"flag": "timing_skill", "status": "failure", "detail": "why"}]
    text = summary.comparison_markdown({**COMPARISON, "flags": flags, "controls": controls})
    assert "## Controls: the governor against a leverage cut" in text
    assert (
        "| governor (scaled run) | scalar, mean 0.92 | 7.89% | 10.60% | 0.770 | -18.34% |" in text
    )
    assert "| (b) constant at the scaled run's vol | 0.959 | 7.99% |" in text
    assert text.rstrip().splitlines()[-3] == "Timing skill: failure (why)"
    assert "| -8.74% | yes / no |" in text
    # a comparison from before the controls has no such section
    assert "Controls" not in summary.comparison_markdown(COMPARISON)
