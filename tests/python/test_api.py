"""The Python API's pieces without dbt (issue 22): inputs as files or pandas,
wide or long; the window from the data; the exception hierarchy; the lock
message and the snapshot fallback; the runs listing's input files; tuning's
one-line refusal, its apply command, its progress and its report."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import textwrap
from dataclasses import replace as dataclasses_replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from tests.browser.test_tuning_report_renders import _tuning
from tests.conftest import FIXTURE_INPUTS

import allocator
from allocator import api, cli, database, inputs, progress, runs, snapshots, tune
from allocator.tuning_report import render_tuning_html

PROJECT_DIR = Path(__file__).resolve().parents[2]
CORE = {"trend_lookback_days": 252, "csmom_lookback_days": 252, "sleeve_vol_lookback_days": 60}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(tmp_path / "api.duckdb"))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("ALLOCATOR_PROJECT_DIR", str(PROJECT_DIR))
    return tmp_path


def _wide(n_dates: int = 5) -> pd.DataFrame:
    dates = pd.bdate_range("2021-01-04", periods=n_dates)
    return pd.DataFrame({"AAA": range(100, 100 + n_dates), "BBB": 50.0}, index=dates)


# --------------------------------------------------------------------------
# inputs: layouts, formats and pandas objects, detected and said
# --------------------------------------------------------------------------


def test_a_long_file_is_read_as_it_is(tmp_path: Path) -> None:
    path = FIXTURE_INPUTS / "tiny_prices.csv"
    table = inputs.read_input(path, "prices_path", tmp_path)
    assert (table.layout, table.file_format, table.path) == ("long", "csv", path)
    assert (table.rows, table.symbols, len(table.dates)) == (12, 2, 6)
    assert table.describe().startswith("prices: tiny_prices.csv is a long CSV table, 6 dates")


def test_a_wide_file_becomes_long_with_the_same_rows(tmp_path: Path) -> None:
    table = inputs.read_input(FIXTURE_INPUTS / "tiny_prices_wide.csv", "prices_path", tmp_path)
    assert (table.layout, table.symbols, len(table.dates)) == ("wide", 2, 6)
    assert table.path.parent == tmp_path / ".allocator" / "inputs"
    assert "is a wide CSV table" in table.describe() and "written long to" in table.describe()
    converted = duckdb.sql(f"select * from '{table.path}' order by date, symbol").df()
    original = pd.read_csv(FIXTURE_INPUTS / "tiny_prices.csv", dtype=str)
    assert converted.astype(str).values.tolist() == original.values.tolist()


def test_dataframes_and_series_wide_or_long(tmp_path: Path) -> None:
    wide = inputs.read_input(_wide(), "prices_path", tmp_path)
    assert (wide.layout, wide.file_format, wide.symbols, wide.source) == (
        "wide",
        "pandas",
        2,
        "DataFrame",
    )
    long = _wide().rename_axis("date").reset_index().melt("date", var_name="symbol")
    long = long.rename(columns={"value": "Close"})  # names match without case
    assert inputs.read_input(long, "prices_path", tmp_path).layout == "long"
    returns = pd.Series([0.01, -0.02, 0.0], index=pd.bdate_range("2021-01-04", periods=3))
    table = inputs.read_input(returns, "portfolio_returns_path", tmp_path)
    assert (table.source, len(table.dates)) == ("Series", 3)
    # an empty cell of a wide table is no observation
    gappy = _wide().astype(float)
    gappy.iloc[0, 0] = float("nan")
    assert inputs.read_input(gappy, "prices_path", tmp_path).rows == 9


def test_unusable_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(allocator.InputError, match="use a .csv or .parquet file"):
        inputs.read_input(tmp_path / "x.txt", "prices_path", tmp_path)
    with pytest.raises(allocator.InputError, match="returns book is one series"):
        inputs.read_input(_wide(), "portfolio_returns_path", tmp_path)
    with pytest.raises(allocator.InputError, match="has only a date column"):
        inputs.read_input(pd.DataFrame({"date": ["2021-01-04"]}), "prices_path", tmp_path)


def test_the_window_defaults_to_the_data_and_refuses_dates_outside_it(tmp_path: Path) -> None:
    table = inputs.read_input(_wide(320), "prices_path", tmp_path)
    window = inputs.valid_window(table, "strategy", CORE)
    # the built-in sleeves need 252 + 60 sessions before start
    assert window.earliest_start == table.dates[312]
    assert window.last_date == table.dates[-1]
    assert inputs.check_window(window, None, None, "x") == (table.dates[312], table.dates[-1])
    with pytest.raises(allocator.InputError) as early:
        inputs.check_window(window, table.dates[0], None, "core_v1 on prices")
    assert f"start {table.dates[0]} is too early ({table.dates[312]} is the earliest" in str(early)
    assert f"valid for core_v1 on prices: start {table.dates[312]} to" in str(early)
    late = table.dates[-1] + dt.timedelta(days=30)
    with pytest.raises(allocator.InputError, match=f"end {late} is after the data's last date"):
        inputs.check_window(window, None, late, "x")
    # a weights book needs one session before start, a returns book none
    assert inputs.valid_window(table, "weights_file", None).earliest_start == table.dates[1]
    assert inputs.valid_window(table, "returns_file", None).earliest_start == table.dates[0]
    with pytest.raises(allocator.InputError, match="covers 5 sessions"):
        inputs.valid_window(inputs.read_input(_wide(), "prices_path", tmp_path), "strategy", CORE)


# --------------------------------------------------------------------------
# one exception hierarchy; the API never exits
# --------------------------------------------------------------------------


def test_errors_form_one_hierarchy_and_the_api_never_exits(env: Path) -> None:
    for error in (allocator.InputError, allocator.RunNotFound, allocator.DatabaseLocked):
        assert issubclass(error, allocator.AllocatorError)
    assert issubclass(allocator.InputError, ValueError)
    assert issubclass(allocator.RunNotFound, LookupError)
    with pytest.raises(allocator.InputError, match="start '2021-13-01' is not a valid"):
        allocator.run(start="2021-13-01", log=None)
    with pytest.raises(allocator.InputError, match="give weights or portfolio_returns, not both"):
        allocator.two_pass(weights=_wide(), portfolio_returns=_wide(), log=None)
    with pytest.raises(allocator.AllocatorError, match="does not exist"):
        allocator.load("demo_scaled")


def test_own_books_need_no_profile_and_are_labelled(env: Path) -> None:
    settings = api.settings()
    returns = pd.Series([0.01, -0.02, 0.0, 0.01], index=pd.bdate_range("2021-01-04", periods=4))
    book = api.resolve_book(settings, portfolio_returns=returns.rename("fund"), log=None)
    assert (book.strategy_profile, book.portfolio_source) == ("own_returns", "returns_file")
    assert book.label.startswith("fund_")
    lines: list[str] = []
    book = api.resolve_book(
        settings,
        prices=FIXTURE_INPUTS / "tiny_prices.csv",
        weights=FIXTURE_INPUTS / "tiny_weights.csv",
        log=lines.append,
    )
    assert (book.strategy_profile, book.label) == ("own_weights", "tiny_weights")
    assert book.inputs["benchmark_path"] == ""  # not the demo's index under your own prices
    assert any(line.startswith("weights: tiny_weights.csv is a long CSV table") for line in lines)
    assert any(line.startswith("start: 2021-01-05, the earliest valid start") for line in lines)


def test_cli_tune_refuses_an_unknown_baseline_in_one_line(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(env / "api.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs as select 'demo_base' as run_id, 'off' as allocator_mode"
        )
    assert cli.main(["tune", "--run-id", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "run id 'nope' is not in the runs table" in err and "known run ids: demo_base" in err


def test_tune_prints_the_command_that_applies_it() -> None:
    command = tune.apply_command(
        "demo_base", Path("/r/tuning/demo_base_calmar/governor_config.json")
    )
    assert command == (
        "allocator two-pass --baseline-run-id demo_base "
        "--governor-config /r/tuning/demo_base_calmar/governor_config.json"
    )
    # the command parses as the CLI's own
    args = cli.build_parser().parse_args(command.split()[1:])
    assert (args.baseline_run_id, args.governor_config) == ("demo_base", command.split()[-1])


def test_a_sleeve_choice_is_applied_with_its_sleeve_scalars() -> None:
    """A tuning that chose a sleeve calibration prints an apply command that
    the CLI parses into the same governor config and sleeve scalars."""
    _, configurations, _ = _tuning(4)
    configurations["sleeve_scalars"] = ["off", "stage6_v1", "off", "book"]
    configurations["is_chosen"] = configurations["config_id"] == 1
    path = Path("/r/tuning/my book/governor_config.json")
    command = tune.chosen_apply_command("demo_base", path, configurations)
    assert command.endswith("--sleeve-scalars stage6_v1")
    args = cli.build_parser().parse_args(shlex.split(command)[1:])
    book = cli._book(args)
    assert (args.baseline_run_id, book["governor_config"]) == ("demo_base", str(path))
    assert book["sleeve_scalars"] == "stage6_v1"
    # a book-level choice, and a tuning stored before the sleeve axis: no option
    configurations["is_chosen"] = configurations["config_id"] == 0
    assert "--sleeve-scalars" not in tune.chosen_apply_command("demo_base", path, configurations)
    legacy = configurations.drop(columns="sleeve_scalars")
    assert tune.chosen_apply_command("demo_base", path, legacy) == tune.apply_command(
        "demo_base", path
    )


def test_load_tuning_applies_the_stored_choice_with_its_sleeve_scalars(env: Path) -> None:
    """The notebook's Tuning.apply_command is the one `allocator tune` prints."""
    summary, configurations, folds = _tuning(4)
    configurations["sleeve_scalars"] = ["off", "off", "off", "stage6_v1"]
    configurations["is_chosen"] = configurations["config_id"] == 3
    configurations["tuning_id"] = folds["tuning_id"] = "t1"
    summary = pd.DataFrame([{**summary, "tuning_id": "t1", "baseline_run_id": "demo_base"}])
    with duckdb.connect(str(env / "api.duckdb")) as con:
        con.execute("create schema marts")
        for name, frame in (
            ("tuning_summary", summary),
            ("tuning_configurations", configurations),
            ("tuning_walk_forward", folds),
        ):
            con.register("frame", frame)
            con.execute(f"create table marts.{name} as select * from frame")
            con.unregister("frame")
    tuning = api.load_tuning("t1")
    assert tuning.apply_command.startswith("allocator two-pass --baseline-run-id demo_base ")
    assert tuning.apply_command.endswith(" --sleeve-scalars stage6_v1")


def test_tuning_report_shows_timing_skill_and_the_controls() -> None:
    summary, configurations, folds = _tuning(20)
    configurations["timing_skill"] = ["good"] * 5 + ["warning"] * 5 + ["failure"] * 10
    configurations["vol_matched_max_drawdown"] = -0.2
    configurations["vol_matched_sharpe"] = 0.61
    configurations["vol_target_max_drawdown"] = -0.15
    configurations["vol_target_sharpe"] = 0.7
    configurations["is_chosen"] = configurations["config_id"] == 3
    page = render_tuning_html(summary, configurations, folds)
    assert "timing_skill (the governor against the controls" in page
    assert "good 5, warning 5, failure 10" in page
    assert "(b) -20.0% / 0.61; (c) -15.0% / 0.70" in page
    assert "<th>timing_skill</th>" in page


def test_step_progress_says_how_long_is_left() -> None:
    lines: list[str] = []
    clock = iter([0.0, 10.0, 10.5, 40.0]).__next__
    steps = progress.Steps("tune: configurations swept", 1000, lines.append, clock, 2.0)
    steps.advance(250)  # 10 s for 250: 30 s left
    steps.advance(300)  # within the interval: quiet
    steps.advance(1000)  # the end is always said
    assert lines == [
        "tune: configurations swept: 250/1,000, 10.0 s, about 30 s left",
        "tune: configurations swept: 1,000/1,000, 40.0 s",
    ]
    with progress.step_reporting(lines.append):
        progress.steps("x", 2).advance(2)
    assert lines[-1].startswith("x: 2/2,")
    progress.steps("y", 2).advance(2)  # no command reporting: nothing said
    assert lines[-1].startswith("x: 2/2,")


# --------------------------------------------------------------------------
# reading while a run writes
# --------------------------------------------------------------------------

HOLD_AS_ALLOCATOR = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from allocator import snapshots
    with snapshots.writer_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def _make_db(path: Path, reports: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs as select 'r1' as run_id, 'baseline' as run_kind, "
            "timestamp '2026-12-01 10:00:00' as created_at, "
            """'{"inputs": {"prices_path": "/d/my_closes.csv", "benchmark_path": ""}}' """
            "as config_json, 'abcdef0123456789' as prices_fingerprint"
        )
        snapshots.write_snapshots(con, reports)


def test_runs_reads_the_snapshots_while_an_allocator_run_writes(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, reports = env / "api.duckdb", env / "reports"
    _make_db(db, reports)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AS_ALLOCATOR, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert cli.main(["runs"]) == 0
        out = capsys.readouterr().out
        assert f"is being written by another allocator command (pid {holder.pid}" in out
        assert f"reading the Parquet snapshots in {reports / 'marts'}" in out
        assert "my_closes.csv#abcdef01" in out
        # a writer is told to wait, not to close it
        message = database.lock_message(
            db, f"Could not set lock: Conflicting lock is held in python (PID {holder.pid})"
        )
        assert message is not None and "wait for it to finish" in message
        assert "close it" not in message
    finally:
        holder.kill()
        holder.wait()


def test_input_files_of_a_stored_run() -> None:
    row = {
        "config_json": json.dumps(
            {"inputs": {"prices_path": "data/p.parquet", "weights_path": "/w.csv"}}
        ),
        "prices_fingerprint": "1234567890",
    }
    assert runs.input_files(row) == "p.parquet#12345678, w.csv"
    assert runs.input_files({"config_json": "{}"}) == runs.NONE


def _seed_governor(calibration: str = "scale_free_v1") -> dict:
    """The seeds' governor of a calibration, in governor-config form."""
    rules = pd.read_csv(PROJECT_DIR / "seeds" / "allocator_regime_rules.csv")
    rules = rules[rules["calibration"] == calibration]
    scalars = pd.read_csv(PROJECT_DIR / "seeds" / "allocator_regime_scalars.csv")
    scalars = scalars[scalars["calibration"] == calibration]
    return {
        "regime_rules": rules[
            ["feature", "level", "direction", "enter_threshold", "exit_threshold"]
        ].values.tolist(),
        "target_scalars": dict(zip(scalars["regime"], scalars["target_scalar"], strict=True)),
        "allocator_regime_min_days": 5,
        "allocator_risk_ewma_alpha": 0.5,
        "allocator_risk_scalar_floor": 0.1,
        "allocator_risk_scalar_cap": 1.0,
        "cadence": "daily",
    }


def test_two_pass_with_a_tuned_governor_rebuilds_the_baseline_it_needs(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """two-pass --baseline-run-id X --governor-config F: the scalars come from
    the baseline, so a governor other than X's gets a baseline of its own on
    X's book (pass 1 again); X's own governor reuses X."""
    governor = _seed_governor()
    config = {
        "regime_calibration": {
            "name": "scale_free_v1",
            "rules": governor["regime_rules"],
            "target_scalars": governor["target_scalars"],
        },
        "allocator_parameters": {
            "regime_min_days": 5,
            "risk_ewma_alpha": 0.5,
            "risk_scalar_floor": 0.1,
            "risk_scalar_cap": 1.0,
        },
        "allocator_v1": {"cadence": "daily"},
        "inputs": {"prices_path": "data/demo/sp500_prices.parquet"},
    }
    with duckdb.connect(str(env / "api.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.runs as select 'demo_base' as run_id, 'off' as allocator_mode, "
            "'core_v1' as strategy_profile, date '2005-01-03' as start_date, "
            "date '2022-12-28' as end_date, ? as config_json",
            [json.dumps(config)],
        )
    calls = []
    monkeypatch.setattr(
        api.workflow,
        "two_pass",
        lambda settings, baseline, scaled, emit, reuse_baseline: (
            calls.append((baseline, scaled, reuse_baseline)) or {}
        ),
    )
    tuned = env / "governor_config.json"
    tuned.write_text(
        json.dumps({**governor, "allocator_regime_min_days": 10, "chosen_by": {"tuning_id": "t1"}})
    )
    lines: list[str] = []
    ids = api.execute_two_pass(
        api.settings(), baseline_run_id="demo_base", governor_config=tuned, log=lines.append
    )
    baseline, scaled, reuse = calls[-1]
    assert (ids.baseline_run_id, ids.scaled_run_id, reuse) == (
        "demo_base_t1",
        "demo_base_t1_scaled",
        False,
    )
    assert (baseline.strategy_profile, baseline.start, baseline.end) == (
        "core_v1",
        dt.date(2005, 1, 3),
        dt.date(2022, 12, 28),
    )
    assert json.loads(baseline.governor_config_json)["allocator_regime_min_days"] == 10
    assert "pass 1 rebuilds the baseline on the same book as demo_base_t1" in lines[0]
    # the baseline's own governor: nothing to rebuild
    same = env / "same.json"
    same.write_text(json.dumps(governor))
    api.execute_two_pass(api.settings(), baseline_run_id="demo_base", governor_config=same)
    baseline, scaled, reuse = calls[-1]
    assert (baseline.run_id, scaled, reuse, baseline.governor_config_json) == (
        "demo_base",
        "demo_scaled",
        True,
        None,
    )


def test_compare_reads_the_snapshots_while_an_allocator_run_writes(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, reports = env / "api.duckdb", env / "reports"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.runs as select * from (values ('a'), ('b')) as t(run_id)")
        con.execute(
            "create table marts.portfolio_returns as select run_id, "
            "date '2021-01-01' + cast(i as integer) as date, "
            "0.001 * (i % 3 - 1) as portfolio_return, 1.0 as equity, 0.0 as drawdown "
            "from (values ('a'), ('b')) as r(run_id), range(1, 40) as t(i)"
        )
        con.execute(
            "create table marts.run_metrics as select run_id, 0.05 as cagr, 0.1 as ann_vol, "
            "0.5 as sharpe, -0.1 as max_drawdown, -0.02 as worst_month, -0.03 as worst_quarter "
            "from (values ('a'), ('b')) as t(run_id)"
        )
        snapshots.write_snapshots(con, reports)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AS_ALLOCATOR, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert cli.main(["compare", "a", "b", "--out-dir", str(env / "cmp")]) == 0
        out = capsys.readouterr().out
        assert "reading the Parquet snapshots" in out
        assert (env / "cmp" / "run_comparison.html").is_file()
    finally:
        holder.kill()
        holder.wait()


def test_a_risk_free_rate_is_a_number_a_file_or_a_series(env: Path) -> None:
    settings = api.settings()
    assert api.risk_free_var(0.02, settings) == 0.02
    assert api.risk_free_var("0.035", settings) == 0.035
    rates = env / "bills.csv"
    rates.write_text("date,rate\n2021-01-04,0.01\n")
    assert api.risk_free_var(rates, settings) == str(rates)
    series = pd.Series([0.01, 0.02], index=pd.to_datetime(["2021-01-04", "2021-06-01"]))
    converted = Path(str(api.risk_free_var(series, settings)))
    assert duckdb.sql(f"select * from '{converted}'").fetchall()[1][1] == 0.02
    with pytest.raises(allocator.InputError, match="neither an annual rate"):
        api.risk_free_var("two percent", settings)
    # the dbt vars: a number is risk_free_rate, a file risk_free_path
    request = api.workflow.RunRequest("r", "core_v1", dt.date(2021, 1, 4), dt.date(2021, 2, 1))
    assert "risk_free_rate" not in request.dbt_vars()
    assert dataclasses_replace(request, risk_free_rate=0.02).dbt_vars()["risk_free_rate"] == 0.02
    assert dataclasses_replace(request, risk_free_rate="/r.csv").dbt_vars()["risk_free_path"] == (
        "/r.csv"
    )


def test_the_tuned_governors_run_ids_stay_apart_at_any_length(tmp_path: Path) -> None:
    """The command `allocator tune` prints (two-pass --baseline-run-id X
    --governor-config F) names the new baseline X_<objective>, not X_X_<objective>
    cut at 64 characters, which made the scaled id equal the baseline's."""
    base = "my_closes_20160331_20221228_base"
    tuned = tmp_path / "governor_config.json"
    tuned.write_text(json.dumps({"chosen_by": {"tuning_id": f"{base}_calmar"}}))
    label = api._governor_label(tuned, base)
    assert label == "calmar"
    governed = api._with_suffix(base, label)
    assert (governed, api._scaled_id(governed)) == (
        "my_closes_20160331_20221228_base_calmar",
        "my_closes_20160331_20221228_base_calmar_scaled",
    )
    long_base, long_label = "a" * 60 + "_base", "b" * 40
    governed = api._with_suffix(long_base, long_label)
    scaled = api._scaled_id(governed)
    assert governed.endswith(long_label) and scaled.endswith("_scaled")
    assert len({long_base, governed, scaled}) == 3
    assert max(map(len, (governed, scaled))) <= 64
