"""The Python API: what a notebook calls, and the one implementation the
`allocator` CLI is a thin argument layer over.

    import allocator
    audit = allocator.two_pass(prices=closes)     # wide: a date index, a column per symbol
    audit                                         # a summary table in Jupyter
    audit.metrics, audit.controls, audit.regimes  # pandas DataFrames
    audit.report()                                # the HTML report's path

Inputs are paths (CSV or Parquet) or pandas objects, wide or long
(allocator.inputs). ``start`` and ``end`` default to the earliest valid
start of the book and the data's last date; a date outside the data is
refused with the valid range. A weights or returns book needs no profile.
Every failure is an :class:`allocator.AllocatorError` (see allocator.errors),
never SystemExit. Progress lines go to ``log`` (default ``print``; ``None``
for silence).

Where results go: ``project_dir``, ``db_path`` and ``reports_dir`` (else
$ALLOCATOR_PROJECT_DIR, $ALLOCATOR_DUCKDB_PATH, $ALLOCATOR_REPORTS_DIR, else
the checkout, or the current directory for an installed package), as for
the CLI. dbt runs in this process.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from allocator import inputs as input_tables
from allocator import validate, workflow
from allocator.errors import AllocatorError, InputError

#: The repository checkout this package runs from (an editable install).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
#: The profiles a book of your own runs under when none is named: what it is.
OWN_BOOK_PROFILES = {"weights_file": "own_weights", "returns_file": "own_returns"}
#: Input data: a path to a CSV or Parquet file, or a pandas object.
Data = str | os.PathLike | pd.DataFrame | pd.Series
DateLike = str | dt.date
Log = Callable[[str], None] | None
#: A risk-free rate: annual, as a fraction; or a file or Series of them by date.
RiskFree = float | str | os.PathLike | pd.Series | None


# --------------------------------------------------------------------------
# where things are
# --------------------------------------------------------------------------


def settings(
    project_dir: str | os.PathLike | None = None,
    db_path: str | os.PathLike | None = None,
    reports_dir: str | os.PathLike | None = None,
    verbose: bool = False,
    tests: bool = True,
) -> workflow.Settings:
    """Where the dbt project, the database and the reports are (the CLI's rules).

    ``tests=False`` builds without the dbt data and unit tests (faster; the
    tests are the acceptance checks).
    """
    env = dict(os.environ)
    if db_path is not None:
        env["ALLOCATOR_DUCKDB_PATH"] = str(Path(db_path).expanduser().resolve())
    return workflow.resolve_settings(
        env,
        PACKAGE_ROOT,
        str(project_dir) if project_dir is not None else None,
        str(reports_dir) if reports_dir is not None else None,
        verbose,
        run_tests=tests,
    )


def _settings(where: Mapping[str, Any]) -> workflow.Settings:
    given = where.get("settings")
    if given is not None:
        return given
    return settings(
        where.get("project_dir"),
        where.get("db_path"),
        where.get("reports_dir"),
        bool(where.get("verbose", False)),
        bool(where.get("tests", True)),
    )


def _emit(log: Log) -> Callable[[str], None]:
    return log if log is not None else (lambda line: None)


def _date(value: DateLike | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    if isinstance(value, pd.Timestamp):
        return value.date()
    return validate.parse_date(str(value), name)


# --------------------------------------------------------------------------
# the book: inputs, profile and window
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Book:
    """A run's inputs resolved: the dbt vars, the tables read, the profile and window."""

    inputs: dict[str, str]  # input vars that differ from the project's defaults
    tables: tuple[input_tables.InputTable, ...]
    strategy_profile: str
    portfolio_source: str  # strategy, weights_file or returns_file
    start: dt.date
    end: dt.date
    window: input_tables.ValidWindow
    label: str  # what run ids are named after

    def describe(self) -> list[str]:
        return [table.describe() for table in self.tables]


def profile_rows(project_dir: Path) -> dict[str, dict[str, str]]:
    """The project's strategy profiles (seeds/strategy_profiles.csv) by name."""
    path = project_dir / workflow.PROFILES_SEED
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["strategy_profile"]: row for row in csv.DictReader(handle)}


def _is_none(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "none")


def _label(table: input_tables.InputTable) -> str:
    if table.file_format == "pandas":
        stem = Path(table.path).stem.split("__")[0]
        return f"{stem}_{table.fingerprint[:6]}"
    return Path(table.source).stem


def resolve_book(
    settings: workflow.Settings,
    *,
    prices: Data | None = None,
    benchmark: Data | bool | None = None,
    weights: Data | None = None,
    portfolio_returns: Data | None = None,
    strategy_profile: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    log: Log = print,
) -> Book:
    """Read the inputs, choose the profile, and fix the window before dbt starts.

    ``benchmark``: data, or ``"none"``/``False`` for no benchmark; with your
    own prices and no benchmark there is none (the bundled index is the demo's).
    """
    emit = _emit(log)
    if weights is not None and portfolio_returns is not None:
        raise InputError("give weights or portfolio_returns, not both")
    source = (
        "weights_file"
        if weights is not None
        else "returns_file"
        if portfolio_returns is not None
        else "strategy"
    )
    profiles = profile_rows(settings.project_dir)
    own = OWN_BOOK_PROFILES.get(source)
    profile = strategy_profile or own or str(workflow.run_config.DEFAULTS["strategy_profile"])
    workflow.check_profile(settings.project_dir, profile)
    if profile in OWN_BOOK_PROFILES.values() and profile != own:
        raise InputError(
            f"strategy profile {profile} is for a book of your own "
            f"({'weights' if profile == 'own_weights' else 'portfolio returns'}); "
            "give that file, or name a strategy profile such as core_v1"
        )
    work_dir = settings.db_path.parent
    given = {
        "prices_path": prices,
        "benchmark_path": benchmark,
        "weights_path": weights,
        "portfolio_returns_path": portfolio_returns,
    }
    tables: dict[str, input_tables.InputTable] = {}
    vars_: dict[str, str] = {}
    for role, data in given.items():
        if data is None:
            continue
        if role == "benchmark_path" and _is_none(data):
            vars_[role] = ""
            continue
        tables[role] = input_tables.read_input(data, role, work_dir)  # type: ignore[arg-type]
        vars_[role] = str(tables[role].path)
    if prices is not None and benchmark is None:
        vars_["benchmark_path"] = ""
        emit("benchmark: none (the bundled index belongs to the demo data; give one to compare)")
    if "prices_path" not in tables:
        defaults = workflow.project_input_defaults(settings.project_dir)
        bundled = settings.project_dir / defaults["prices_path"]
        tables["prices_path"] = input_tables.read_input(bundled, "prices_path", work_dir)
    book_table = tables["portfolio_returns_path" if source == "returns_file" else "prices_path"]
    window = input_tables.valid_window(book_table, source, profiles.get(profile))
    chosen_start, chosen_end = input_tables.check_window(
        window, _date(start, "start"), _date(end, "end"), f"{profile} on {book_table.name}"
    )
    for table in tables.values():
        if table.role != "prices_path" or prices is not None:
            emit(table.describe())
    if start is None:
        emit(f"start: {chosen_start}, the earliest valid start for {profile} ({window.reason})")
    if end is None:
        emit(f"end: {chosen_end}, the data's last date")
    book_file = tables.get("weights_path") or tables.get("portfolio_returns_path")
    label_table = book_file or (tables["prices_path"] if prices is not None else None)
    label = _label(label_table) if label_table is not None else profile
    return Book(
        vars_,
        tuple(tables.values()),
        profile,
        source,
        chosen_start,
        chosen_end,
        window,
        validate.run_label(label),
    )


# --------------------------------------------------------------------------
# the work (the CLI calls these)
# --------------------------------------------------------------------------


def execute_run(
    settings: workflow.Settings,
    *,
    prices: Data | None = None,
    benchmark: Data | bool | None = None,
    weights: Data | None = None,
    portfolio_returns: Data | None = None,
    strategy_profile: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    run_id: str | None = None,
    tag: str | None = None,
    mode: str | None = None,
    precomputed_run_id: str | None = None,
    governor_config: str | os.PathLike | Mapping[str, Any] | None = None,
    calibration: str | None = None,
    risk_free_rate: RiskFree = None,
    rebalance_calendar: str | None = None,
    sleeve_scalars: str | None = None,
    replace: bool = False,
    live: bool = False,
    log: Log = print,
) -> str:
    """Build one run and export it; returns its run id (see :func:`run`).
    ``live`` stores it as a live run that daily updates append sessions to
    (allocator.live_workflow), computing its own scalars (mode compute)."""
    emit = _emit(log)
    if live and precomputed_run_id:
        raise AllocatorError(
            "--live: a live run computes its own scalars; drop --precomputed-run-id"
        )
    calibration = named_calibration(settings, calibration, governor_config)
    resolved_mode = validate.resolve_mode(mode or ("compute" if live else None), precomputed_run_id)
    suffix = {"off": "base", "compute": "compute", "precomputed": "scaled"}[resolved_mode]
    tag = validate.check_tag(tag) if tag else None
    book = resolve_book(
        settings,
        prices=prices,
        benchmark=benchmark,
        weights=weights,
        portfolio_returns=portfolio_returns,
        strategy_profile=strategy_profile,
        start=start,
        end=end,
        log=log,
    )
    run_id = run_id or validate.default_run_id(book.label, book.start, book.end, suffix, tag)
    validate.check_run_id(run_id)
    request = workflow.RunRequest(
        run_id,
        book.strategy_profile,
        book.start,
        book.end,
        resolved_mode,
        precomputed_run_id,
        inputs=tuple(sorted(book.inputs.items())),
        replace_run=replace,
        governor_config_json=governor_config_json(governor_config),
        calibration=calibration,
        risk_free_rate=risk_free_var(risk_free_rate, settings),
        rebalance_calendar=rebalance_calendar,
        sleeve_scalars=sleeve_scalars,
    )
    if live:
        from allocator import live_workflow

        live_workflow.start(settings, request, emit)
    else:
        workflow.run(settings, request, emit)
    return run_id


def risk_free_var(value: RiskFree, settings: workflow.Settings) -> float | str | None:
    """The risk-free rate as the dbt var: an annual rate (a number, or a
    text such as "0.02"), or a file of annual rates (date, rate) as an
    absolute path; a pandas Series of annual rates by date is written to one."""
    if value is None:
        return None
    if isinstance(value, pd.Series):
        frame = value.rename("rate").rename_axis("date").reset_index()
        table = input_tables.read_input(frame, "risk_free_path", settings.db_path.parent)
        return str(table.path)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    if text.lower().endswith((".csv", ".parquet")):
        return str(input_tables.checked_path(text, "risk_free_path"))
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"risk_free_rate {text!r} is neither an annual rate (e.g. 0.02) nor a .csv or "
            ".parquet file of them (date, rate)"
        ) from None


def named_calibration(
    settings: workflow.Settings,
    calibration: str | None,
    governor_config: str | os.PathLike | Mapping[str, Any] | None = None,
) -> str | None:
    """A calibration the seeds define, or None for the default; refused with
    a governor config, which replaces the whole governor a calibration names."""
    if calibration is None:
        return None
    if governor_config is not None:
        raise InputError(
            "--calibration and --governor-config both set the governor: a governor config "
            "replaces the calibration's rules and map, so give one of them"
        )
    return workflow.check_calibration(settings.project_dir, str(calibration))


def governor_config_json(config: str | os.PathLike | Mapping[str, Any] | None) -> str | None:
    """A governor configuration (a file such as `allocator tune` writes, or
    its content as a dict) as canonical JSON, or None."""
    from allocator.governor_config import check_governor_config, read_governor_config

    if config is None:
        return None
    try:
        settings_ = (
            check_governor_config(dict(config))
            if isinstance(config, Mapping)
            else read_governor_config(config)
        )
    except ValueError as exc:
        raise InputError(f"governor config: {exc}") from exc
    return json.dumps(settings_, sort_keys=True)


@dataclass(frozen=True)
class AuditIds:
    """The run ids of a two-pass audit."""

    baseline_run_id: str
    scaled_run_id: str
    comparison: dict[str, Any] = field(default_factory=dict)


def execute_two_pass(
    settings: workflow.Settings,
    *,
    prices: Data | None = None,
    benchmark: Data | bool | None = None,
    weights: Data | None = None,
    portfolio_returns: Data | None = None,
    strategy_profile: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    baseline_run_id: str | None = None,
    scaled_run_id: str | None = None,
    tag: str | None = None,
    governor_config: str | os.PathLike | Mapping[str, Any] | None = None,
    calibration: str | None = None,
    risk_free_rate: RiskFree = None,
    rebalance_calendar: str | None = None,
    sleeve_scalars: str | None = None,
    replace: bool = False,
    default_ids: tuple[str, str] | None = None,
    log: Log = print,
) -> AuditIds:
    """Baseline, scaled run and their comparison; returns the ids (see :func:`two_pass`)."""
    emit = _emit(log)
    tag = validate.check_tag(tag) if tag else None
    calibration = named_calibration(settings, calibration, governor_config)
    governor = governor_config_json(governor_config)
    reuse = baseline_run_id is not None
    if reuse:
        validate.check_run_id(baseline_run_id, "--baseline-run-id")
        given_inputs = {
            role: str(input_tables.checked_path(data, validate.INPUT_OPTIONS[role]))
            if not _is_none(data)
            else ""
            for role, data in (
                ("prices_path", prices),
                ("benchmark_path", benchmark),
                ("weights_path", weights),
                ("portfolio_returns_path", portfolio_returns),
            )
            if data is not None and not isinstance(data, (pd.DataFrame, pd.Series))
        }
        baseline = workflow.baseline_request(
            settings,
            baseline_run_id,
            strategy_profile,
            _date(start, "--start"),
            _date(end, "--end"),
            given_inputs,
        )
        if governor is not None and governor != stored_governor(settings, baseline_run_id):
            # the scalars come from the baseline: a new governor needs a new
            # baseline on the same book (pass 1 again, under its own id)
            label = tag or _governor_label(governor_config, baseline_run_id) or "governed"
            emit(
                f"governor config: differs from baseline {baseline_run_id}'s, so pass 1 "
                f"rebuilds the baseline on the same book as {baseline_run_id}_{label}"
            )
            baseline = dataclasses.replace(
                baseline,
                run_id=validate.check_run_id(
                    _with_suffix(baseline_run_id, label), "baseline run id"
                ),
                governor_config_json=governor,
            )
            reuse = False
        elif calibration is not None and calibration != baseline.calibration:
            # as for a governor config: the scalars come from pass 1
            label = tag or calibration
            emit(
                f"calibration: {calibration} is not baseline {baseline_run_id}'s, so pass 1 "
                f"rebuilds the baseline on the same book as {baseline_run_id}_{label}"
            )
            baseline = dataclasses.replace(
                baseline,
                run_id=validate.check_run_id(
                    _with_suffix(baseline_run_id, label), "baseline run id"
                ),
                calibration=calibration,
            )
            reuse = False
        label_source = baseline.run_id
        scaled_id = scaled_run_id or _scaled_id(label_source)
    else:
        book = resolve_book(
            settings,
            prices=prices,
            benchmark=benchmark,
            weights=weights,
            portfolio_returns=portfolio_returns,
            strategy_profile=strategy_profile,
            start=start,
            end=end,
            log=log,
        )
        base_id = (
            default_ids[0]
            if default_ids
            else validate.default_run_id(book.label, book.start, book.end, "base", tag)
        )
        baseline = workflow.RunRequest(
            validate.check_run_id(base_id, "baseline run id"),
            book.strategy_profile,
            book.start,
            book.end,
            inputs=tuple(sorted(book.inputs.items())),
            governor_config_json=governor,
            calibration=calibration,
            rebalance_calendar=rebalance_calendar,
            sleeve_scalars=sleeve_scalars,
        )
        scaled_id = scaled_run_id or (
            default_ids[1]
            if default_ids
            else validate.default_run_id(book.label, book.start, book.end, "scaled", tag)
        )
    validate.check_run_id(scaled_id, "--scaled-run-id")
    baseline = dataclasses.replace(
        baseline, replace_run=replace, risk_free_rate=risk_free_var(risk_free_rate, settings)
    )
    # given for a stored baseline too: they reach pass 2, and the gate refuses
    # a calendar other than the baseline's
    for option, value in (
        ("rebalance_calendar", rebalance_calendar),
        ("sleeve_scalars", sleeve_scalars),
    ):
        if value is not None:
            baseline = dataclasses.replace(baseline, **{option: value})
    comparison = workflow.two_pass(settings, baseline, scaled_id, emit, reuse_baseline=reuse)
    return AuditIds(baseline.run_id, scaled_id, comparison)


def stored_governor(settings: workflow.Settings, run_id: str) -> str | None:
    """A stored run's whole governor in governor-config form (canonical JSON)."""
    from allocator.governor_config import check_governor_config

    stored = workflow.check_stored_run(settings, run_id, "--baseline-run-id")
    config = json.loads(str(stored["config_json"]))
    calibration = config.get("regime_calibration") or {}
    parameters = config.get("allocator_parameters") or {}
    try:
        governor = check_governor_config(
            {
                "regime_rules": calibration.get("rules"),
                "target_scalars": calibration.get("target_scalars"),
                "allocator_regime_min_days": parameters.get("regime_min_days"),
                "allocator_risk_ewma_alpha": parameters.get("risk_ewma_alpha"),
                "allocator_risk_scalar_floor": parameters.get("risk_scalar_floor"),
                "allocator_risk_scalar_cap": parameters.get("risk_scalar_cap"),
                "cadence": (config.get("allocator_v1") or {}).get("cadence"),
            }
        )
    except (ValueError, TypeError, KeyError):
        return None
    return json.dumps(governor, sort_keys=True)


def _scaled_id(baseline_run_id: str) -> str:
    stem = (
        baseline_run_id[: -len("_base")] if baseline_run_id.endswith("_base") else baseline_run_id
    )
    return _with_suffix(stem, "scaled")


def _with_suffix(stem: str, suffix: str) -> str:
    """``stem_suffix`` within the 64 characters of a run id: the stem is cut,
    never the suffix, so two ids built from one stem stay apart."""
    return f"{stem[: 63 - len(suffix)].rstrip('_')}_{suffix}"


def _governor_label(config: Any, baseline_run_id: str = "") -> str | None:
    """A governor file's tuning id (`allocator tune` records it) without the
    baseline's id it starts with (my_run_base_calmar -> calmar), else its
    file stem."""
    if config is None or isinstance(config, Mapping):
        return None
    path = Path(config)
    try:
        chosen = json.loads(path.read_text(encoding="utf-8")).get("chosen_by") or {}
    except (OSError, ValueError, AttributeError):
        chosen = {}
    name = str(chosen.get("tuning_id") or path.stem)
    if baseline_run_id and name.startswith(f"{baseline_run_id}_"):
        name = name[len(baseline_run_id) + 1 :]
    return validate.run_label(name)


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


def _frame(con: Any, query: str, params: list[Any]) -> pd.DataFrame:
    frame = con.execute(query, params).df()
    for column in frame.columns:
        if column == "date" or column.endswith("_date"):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def _table_or_empty(con: Any, table: str, key: str, run_id: str, order: str) -> pd.DataFrame:
    from allocator.database import table_exists

    if not table_exists(con, table):
        return pd.DataFrame()
    return _frame(con, f"select * from {table} where {key} = ? order by {order}", [run_id])


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}")


@dataclass
class Run:
    """One stored run, its data as pandas DataFrames.

    ``returns``: marts.portfolio_returns (date, portfolio_return, equity,
    drawdown, the unscaled return beside it); ``weights``: weights_scaled
    (rebalance_date, symbol, weight_raw, risk_scalar_used, weight_scaled);
    ``regimes``: allocator_regime_v1 (date, regime, ...); ``scalars``:
    allocator_scalars_at_rebalances; ``metrics``: one row, run_metrics and
    run_risk_metrics side by side; ``info``: its marts.runs row.
    """

    run_id: str
    info: dict[str, Any]
    returns: pd.DataFrame
    weights: pd.DataFrame
    regimes: pd.DataFrame
    scalars: pd.DataFrame
    metrics: pd.DataFrame
    settings: workflow.Settings = field(repr=False)

    @property
    def folder(self) -> Path:
        """The run's exported files: reports/runs/<run_id>/."""
        return self.settings.run_dir(self.run_id)

    def summary(self) -> pd.DataFrame:
        """The headline figures, one row."""
        keep = ["cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar"]
        present = [c for c in keep if c in self.metrics.columns]
        head = pd.DataFrame(
            {
                "run_id": [self.run_id],
                "kind": [self.info.get("run_kind")],
                "profile": [self.info.get("strategy_profile")],
                "start": [self.info.get("start_date")],
                "end": [self.info.get("end_date")],
                "mode": [self.info.get("allocator_mode")],
            }
        )
        return pd.concat([head, self.metrics[present].reset_index(drop=True)], axis=1)

    def report(self) -> Path:
        """The run's HTML report (the two-pass audit's, for a scaled run), written
        to its folder; returns the path."""
        from allocator import database
        from allocator.comparison import COMPARISON_HTML, is_scaled_run, write_comparison_files

        with database.read_only(self.settings.db_path) as con:
            if is_scaled_run(con, self.run_id):
                write_comparison_files(con, self.run_id, self.folder)
                return self.folder / COMPARISON_HTML
        path = self.folder / "run_summary.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!doctype html><meta charset='utf-8'>{self._repr_html_()}\n")
        return path

    def _repr_html_(self) -> str:
        regimes = (
            self.regimes["regime"].value_counts(normalize=True).rename("share").reset_index()
            if "regime" in self.regimes
            else pd.DataFrame()
        )
        return (
            f"<div><b>allocator run {self.run_id}</b>"
            f"{_html_table(self.summary())}"
            + (f"<p>regimes (share of days)</p>{_html_table(regimes)}" if len(regimes) else "")
            + "</div>"
        )


@dataclass
class TwoPass:
    """A two-pass audit: the baseline and scaled runs and their comparison.

    ``metrics``: two_pass_metrics (metric, baseline, scaled, delta, unit);
    ``controls``: two_pass_controls (the governor against a constant exposure
    and a plain vol target at its vol); ``flags``: two_pass_flags;
    ``regimes``: the scaled run's daily regimes; ``returns``: both books
    daily; ``comparison``: the two_pass_comparison.json document.
    """

    baseline: Run
    scaled: Run
    comparison: dict[str, Any]
    metrics: pd.DataFrame
    controls: pd.DataFrame
    flags: pd.DataFrame
    settings: workflow.Settings = field(repr=False)

    @property
    def regimes(self) -> pd.DataFrame:
        return self.scaled.regimes

    @property
    def returns(self) -> pd.DataFrame:
        base = self.baseline.returns[["date", "portfolio_return"]]
        scaled = self.scaled.returns[["date", "portfolio_return"]]
        return base.merge(scaled, on="date", suffixes=("_baseline", "_scaled"))

    @property
    def verdict(self) -> str:
        """The report's one-line verdict (report.headline, its one definition):
        the worst flag, the MaxDD and Sharpe moves and timing_skill."""
        from allocator.report import flag_rows, headline

        line = headline(self.comparison, flag_rows(self.comparison.get("flags")))
        return f"{line['status']}: {line['text']}" if line else ""

    def report(self) -> Path:
        """The audit's HTML report (reports/runs/<scaled>/two_pass_comparison.html)."""
        return self.scaled.report()

    def _repr_html_(self) -> str:
        flags = self.flags[["flag", "status"]] if len(self.flags) else self.flags
        controls = self.controls
        keep = ["book_label", "mean_exposure", "cagr", "sharpe", "max_drawdown"]
        controls = controls[[c for c in keep if c in controls.columns]]
        metrics = self.metrics[
            [c for c in ("metric", "baseline", "scaled", "delta") if c in self.metrics]
        ]
        return (
            f"<div><b>two-pass audit {self.baseline.run_id} → {self.scaled.run_id}</b>"
            + (f"<p>{self.verdict}</p>" if self.verdict else "")
            + _html_table(metrics)
            + (f"<p>controls</p>{_html_table(controls)}" if len(controls) else "")
            + (f"<p>flags</p>{_html_table(flags)}" if len(flags) else "")
            + f"<p>report: {self.settings.run_dir(self.scaled.run_id)}</p></div>"
        )


def _load_run(con: Any, run_id: str, settings: workflow.Settings) -> Run:
    from allocator import database

    info = database.require_run(con, run_id, settings.db_path)
    returns = _frame(
        con, "select * from portfolio_returns where run_id = ? order by date", [run_id]
    )
    metrics = _table_or_empty(con, "run_metrics", "run_id", run_id, "run_id")
    risk = _table_or_empty(con, "run_risk_metrics", "run_id", run_id, "run_id")
    if len(risk):
        metrics = metrics.merge(risk, on="run_id", how="left", suffixes=("", "_risk"))
    return Run(
        run_id,
        info,
        returns,
        _table_or_empty(con, "weights_scaled", "run_id", run_id, "rebalance_date, symbol"),
        _table_or_empty(con, "allocator_regime_v1", "run_id", run_id, "date"),
        _table_or_empty(con, "allocator_scalars_at_rebalances", "run_id", run_id, "rebalance_date"),
        metrics,
        settings,
    )


def load(run_id: str, **where: Any) -> Run | TwoPass:
    """A stored run as pandas data; a scaled run of a two-pass audit comes
    with its baseline and comparison (a :class:`TwoPass`)."""
    from allocator import database
    from allocator.comparison import is_scaled_run, load_comparison

    settings_ = _settings(where)
    validate.check_run_id(run_id, "run id")
    with database.read_only(settings_.db_path) as con:
        run = _load_run(con, run_id, settings_)
        if not is_scaled_run(con, run_id):
            return run
        comparison = load_comparison(con, run_id)
        baseline = _load_run(con, str(comparison["baseline_run_id"]), settings_)
        return TwoPass(
            baseline,
            run,
            comparison,
            _table_or_empty(con, "two_pass_metrics", "scaled_run_id", run_id, "metric_order"),
            _table_or_empty(con, "two_pass_controls", "scaled_run_id", run_id, "book_order"),
            _table_or_empty(con, "two_pass_flags", "scaled_run_id", run_id, "flag_order"),
            settings_,
        )


# --------------------------------------------------------------------------
# the public functions
# --------------------------------------------------------------------------


def run(
    prices: Data | None = None,
    *,
    benchmark: Data | bool | None = None,
    weights: Data | None = None,
    portfolio_returns: Data | None = None,
    strategy_profile: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    run_id: str | None = None,
    tag: str | None = None,
    mode: str | None = None,
    precomputed_run_id: str | None = None,
    governor_config: str | os.PathLike | Mapping[str, Any] | None = None,
    calibration: str | None = None,
    risk_free_rate: RiskFree = None,
    rebalance_calendar: str | None = None,
    sleeve_scalars: str | None = None,
    replace: bool = False,
    live: bool = False,
    log: Log = print,
    **where: Any,
) -> Run:
    """Build one run (dbt build: models and tests), export it and load it.

    ``prices``: closes (default: the bundled demo data); ``weights`` or
    ``portfolio_returns``: your own book instead of the built-in sleeves
    (then no profile is needed: the run is labelled own_weights or
    own_returns). ``mode``: off (default), compute, or precomputed with
    ``precomputed_run_id``. ``risk_free_rate``: what Sharpe and Sortino
    measure returns in excess of: an annual rate (0.02), or a CSV/Parquet
    file or a pandas Series of annual rates by date (default 0).
    ``rebalance_calendar``: which session closes a rebalance period,
    sessions (the period's last in the file, default) or weekdays (known at
    the close; a live run's default). ``sleeve_scalars``: a sleeve
    calibration of seeds/allocator_sleeve_scalars.csv (e.g. stage6_v1) to
    scale each sleeve by its own scalar (Stage 6; docs/sleeve_scalars.md).
    ``calibration``: a named governor calibration of the regime seeds (e.g.
    scale_free_v1; default run_config.DEFAULT_CALIBRATION), refused unless
    the seeds define it and refused with ``governor_config``.
    ``live``: store it as a live run that daily updates append to (mode
    compute).
    ``where``: project_dir, db_path, reports_dir, verbose, tests (see
    :func:`settings`).
    """
    settings_ = _settings(where)
    built = execute_run(
        settings_,
        prices=prices,
        benchmark=benchmark,
        weights=weights,
        portfolio_returns=portfolio_returns,
        strategy_profile=strategy_profile,
        start=start,
        end=end,
        run_id=run_id,
        tag=tag,
        mode=mode,
        precomputed_run_id=precomputed_run_id,
        governor_config=governor_config,
        calibration=calibration,
        risk_free_rate=risk_free_rate,
        rebalance_calendar=rebalance_calendar,
        sleeve_scalars=sleeve_scalars,
        replace=replace,
        live=live,
        log=log,
    )
    loaded = load(built, settings=settings_)
    return loaded.scaled if isinstance(loaded, TwoPass) else loaded


def two_pass(
    prices: Data | None = None,
    *,
    benchmark: Data | bool | None = None,
    weights: Data | None = None,
    portfolio_returns: Data | None = None,
    strategy_profile: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    baseline_run_id: str | None = None,
    scaled_run_id: str | None = None,
    tag: str | None = None,
    governor_config: str | os.PathLike | Mapping[str, Any] | None = None,
    calibration: str | None = None,
    risk_free_rate: RiskFree = None,
    rebalance_calendar: str | None = None,
    sleeve_scalars: str | None = None,
    replace: bool = False,
    log: Log = print,
    **where: Any,
) -> TwoPass:
    """The two-pass audit: a baseline (allocator off), the same book scaled by
    the baseline's scalars, and their comparison.

    ``baseline_run_id``: reuse a stored baseline (its book and window); with
    a ``governor_config`` other than the baseline's, the baseline is rebuilt
    under that governor first, and likewise with a ``calibration`` other than
    the baseline's; its rebalance calendar is the stored one.
    Other arguments as for :func:`run`.
    """
    settings_ = _settings(where)
    ids = execute_two_pass(
        settings_,
        prices=prices,
        benchmark=benchmark,
        weights=weights,
        portfolio_returns=portfolio_returns,
        strategy_profile=strategy_profile,
        start=start,
        end=end,
        baseline_run_id=baseline_run_id,
        scaled_run_id=scaled_run_id,
        tag=tag,
        governor_config=governor_config,
        calibration=calibration,
        risk_free_rate=risk_free_rate,
        rebalance_calendar=rebalance_calendar,
        sleeve_scalars=sleeve_scalars,
        replace=replace,
        log=log,
    )
    loaded = load(ids.scaled_run_id, settings=settings_)
    if not isinstance(loaded, TwoPass):  # pragma: no cover - two_pass always compares
        raise AllocatorError(f"run {ids.scaled_run_id} has no comparison")
    return loaded


def stored_runs(settings: workflow.Settings, log: Log = None) -> list[Any]:
    """The stored runs (allocator.runs.StoredRun), read from the database, or
    from the marts' Parquet snapshots while another process writes it."""
    from allocator import runs as registry
    from allocator import snapshots

    with snapshots.read_published(settings.db_path, settings.reports_dir, log) as con:
        return registry.list_runs(con, settings.reports_dir)


def runs(log: Log = print, **where: Any) -> pd.DataFrame:
    """The stored runs, one row each: kind, profile, window, mode, cadence,
    headline metrics, comparison and export state, and the input files
    (name and fingerprint). Reads the marts' Parquet snapshots while another
    process writes the database."""
    listed = stored_runs(_settings(where), log)
    return pd.DataFrame([dataclasses.asdict(run) for run in listed])


def regime_report(run_id: str, *, top: int = 10, **where: Any) -> str:
    """A run's regime distribution, longest spells and top transitions, as text."""
    validate.check_run_id(run_id)
    return workflow.regime_report_text(_settings(where), run_id, top)


def export(run_id: str, *, log: Log = print, **where: Any) -> list[Path]:
    """Write a stored run's files to reports/runs/<run_id>/; returns their paths."""
    validate.check_run_id(run_id)
    return workflow.export(_settings(where), run_id, _emit(log))


def snapshot(*, log: Log = print, **where: Any) -> list[Path]:
    """Write every marts.* table to <reports>/marts/<table>.parquet (atomically)."""
    from allocator import snapshots

    settings_ = _settings(where)
    return snapshots.snapshot(settings_.db_path, settings_.reports_dir, log)


@dataclass
class Comparison:
    """Run B compared with run A: the document, its markdown and the files written."""

    document: dict[str, Any]
    markdown: str
    paths: list[Path]

    @property
    def metrics(self) -> pd.DataFrame:
        return pd.DataFrame(self.document.get("metrics") or [])

    def _repr_html_(self) -> str:
        return f"<pre>{self.markdown}</pre>"


def compare(
    a: str, b: str, *, out_dir: str | os.PathLike | None = None, log: Log = print, **where: Any
) -> Comparison:
    """Compare run B with run A (stored run ids or exported run folders);
    writes run_comparison.{json,md,html}. While another process writes the
    database, stored runs are read from the marts' Parquet snapshots."""
    from allocator import compare_runs

    settings_ = _settings(where)
    side_a, side_b = compare_runs.load_sides([a, b], settings_.db_path, settings_.reports_dir, log)
    folder = (
        Path(out_dir)
        if out_dir
        else compare_runs.default_out_dir(settings_.reports_dir, side_a, side_b)
    )
    document, paths = compare_runs.write_comparison(side_a, side_b, folder)
    return Comparison(document, compare_runs.comparison_markdown(document), paths)


@dataclass
class InputCheck:
    """What `allocator check` finds in an input: its layout, dates, symbols,
    problems and, for prices, the earliest valid start of a profile."""

    table: input_tables.InputTable
    problems: list[str]
    window: input_tables.ValidWindow | None
    strategy_profile: str | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        table = self.table
        rows, columns = table.shape
        lines = [
            table.describe(),
            f"shape: {rows:,} rows x {columns} columns as given; {table.rows:,} long rows",
        ]
        if table.symbols:
            names = ", ".join(table.symbol_names[:20])
            more = f", ... ({table.symbols - 20} more)" if table.symbols > 20 else ""
            lines.append(f"symbols: {table.symbols} ({names}{more})")
        if self.window is not None:
            lines.append(
                f"earliest valid start for {self.strategy_profile}: {self.window.earliest_start} "
                f"({self.window.reason}); last date {self.window.last_date}"
            )
        lines += [f"problem: {p}" for p in self.problems] or ["problems: none"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + self.text().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


def check(
    data: Data,
    *,
    kind: str = "prices",
    strategy_profile: str | None = None,
    **where: Any,
) -> InputCheck:
    """Check one input without building anything: layout, shape, dates,
    symbols, the first problem staging would refuse it for, and (prices) the
    earliest valid start for ``strategy_profile`` (default core_v1).

    ``kind``: prices, benchmark, weights or portfolio_returns.
    """
    settings_ = _settings(where)
    role = f"{kind}_path"
    if role not in input_tables.ROLES:
        raise InputError(
            f"kind {kind!r} is not an input: use prices, benchmark, weights or portfolio_returns"
        )
    table = input_tables.read_input(data, role, settings_.db_path.parent)
    problems = input_problems(settings_, table)
    window = None
    profile = None
    if not problems and role in ("prices_path", "weights_path", "portfolio_returns_path"):
        source = {"prices_path": "strategy", "weights_path": "weights_file"}.get(
            role, "returns_file"
        )
        profile = strategy_profile or OWN_BOOK_PROFILES.get(source) or "core_v1"
        workflow.check_profile(settings_.project_dir, profile)
        try:
            window = input_tables.valid_window(
                table, source, profile_rows(settings_.project_dir).get(profile)
            )
        except InputError as exc:
            problems.append(str(exc))
    return InputCheck(table, problems, window, profile)


def input_problems(settings: workflow.Settings, table: input_tables.InputTable) -> list[str]:
    """Staging's first problem with the file, if any (macros/assert_valid_input.sql,
    through `dbt run-operation check_input_file`): the one definition of a valid row."""
    from allocator import dbt_invoke

    caught: list[str] = []

    def catch(event: Any) -> None:  # the macro's error arrives as an event only
        if event.info.name == "RunningOperationCaughtError":
            caught.append(str(getattr(event.data, "exc", "")))

    outcome = dbt_invoke.invoke(
        "run-operation",
        settings.project_dir,
        {},
        settings.verbose,
        extra=(
            "check_input_file",
            "--args",
            json.dumps({"path": str(table.path), "kind": table.role.removesuffix("_path")}),
        ),
        callbacks=[catch],
    )
    if outcome.success:
        return []
    lines = [line.strip() for text in caught for line in text.splitlines()]
    problems = [line.removeprefix("INVALID ") for line in lines if line.startswith("INVALID ")]
    return problems or [dbt_invoke.clean_message(t) for t in caught] or list(outcome.errors)


def tune(
    run_id: str,
    *,
    grid: str | os.PathLike | None = None,
    objective: str = "calmar",
    min_sharpe: float | None = None,
    walk_forward: int | None = None,
    tuning_id: str | None = None,
    output: str | os.PathLike | None = None,
    override_limits: bool = False,
    log: Log = print,
    **where: Any,
) -> Tuning:
    """Sweep governor configurations over a stored baseline and choose one
    walk-forward; returns the tuning (its summary, configurations, folds and
    the governor-config file that applies it). ``override_limits`` lifts the
    limits on the grid's size and the CSCV blocks (`--override-limits`)."""
    from allocator import tune as tuning_stage

    settings_ = _settings(where)
    request = tuning_stage.request(
        run_id, tuning_id, grid, objective, min_sharpe, walk_forward, output, override_limits
    )
    path = tuning_stage.tune(settings_, request, _emit(log))
    return load_tuning(request.tuning_id, governor_config=path, settings=settings_)


@dataclass
class Tuning:
    """A stored tuning: summary (dict), configurations and folds (DataFrames),
    the governor-config file of its choice and the command that applies it."""

    tuning_id: str
    summary: dict[str, Any]
    configurations: pd.DataFrame
    folds: pd.DataFrame
    governor_config: Path | None
    apply_command: str

    def report(self) -> Path | None:
        if self.governor_config is None:
            return None
        return self.governor_config.parent / "tuning_report.html"

    def _repr_html_(self) -> str:
        keys = ["configurations", "admissible_configurations", "objective", "chosen_config_id"]
        head = pd.DataFrame([{k: self.summary.get(k) for k in keys}])
        return (
            f"<div><b>tuning {self.tuning_id}</b>{_html_table(head)}"
            f"<p>apply: <code>{self.apply_command}</code></p></div>"
        )


def load_tuning(tuning_id: str, governor_config: Path | None = None, **where: Any) -> Tuning:
    """A stored tuning as pandas data."""
    from allocator import database
    from allocator import tune as tuning_stage
    from allocator.tuning_report import load_tuning as load_tables

    settings_ = _settings(where)
    with database.read_only(settings_.db_path) as con:
        summary, configurations, folds = load_tables(con, tuning_id)
    path = governor_config or settings_.reports_dir / "tuning" / tuning_id / "governor_config.json"
    return Tuning(
        tuning_id,
        summary,
        configurations,
        folds,
        path if path.is_file() else None,
        tuning_stage.chosen_apply_command(summary["baseline_run_id"], path, configurations),
    )


def delete(run_id: str, *, with_scaled: bool = False, log: Log = print, **where: Any) -> None:
    """Delete a stored run (and with ``with_scaled`` the scaled runs built on it)."""
    from allocator import runs as stored_runs

    settings_ = _settings(where)
    validate.check_run_id(run_id)
    deletion = stored_runs.delete_run(
        settings_.db_path, settings_.reports_dir, run_id, with_scaled, _emit(log)
    )
    _emit(log)(stored_runs.deletion_text(deletion, settings_.db_path))


def elapsed(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"
