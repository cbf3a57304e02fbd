"""The CLI's workflows: one run, the two-pass audit, the regime report and
the export, each a sequence of dbt invocations and reads of the database.

Output goes through an ``emit`` callable so the workflows can be tested
without capturing stdout.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from allocator import database, dbt_invoke, run_config, snapshots, validate
from allocator.comparison import (
    COMPARISON_HTML,
    is_scaled_run,
    load_comparison,
    write_comparison_files,
)
from allocator.errors import AllocatorError, InputError
from allocator.exports import export_run
from allocator.summary import RebalanceScalar, allocator_summary, regime_report

Emit = Callable[[str], None]

# the demo is the default run (run_config.DEFAULTS) under two run ids
DEMO_PROFILE = str(run_config.DEFAULTS["strategy_profile"])
DEMO_START = dt.date.fromisoformat(str(run_config.DEFAULTS["start"]))
DEMO_END = dt.date.fromisoformat(str(run_config.DEFAULTS["end"]))
DEMO_BASELINE_RUN_ID = "demo_base"
DEMO_SCALED_RUN_ID = "demo_scaled"
PROFILES_SEED = Path("seeds") / "strategy_profiles.csv"
# A named calibration is rows of both seeds (column calibration).
CALIBRATION_SEEDS = (
    Path("seeds") / "allocator_regime_rules.csv",
    Path("seeds") / "allocator_regime_scalars.csv",
)
SCALAR_FILENAME = "allocator_risk_v1_applied.csv"
# A baseline has no comparison: pass 1 leaves the two-pass marts out (the
# publish does not expect them of a baseline).
PASS_1_EXCLUDE = ("tag:two_pass",)
# --no-tests: dbt build without tests (dbt run would not load the seeds)
NO_TESTS_EXCLUDE = ("resource_type:test", "resource_type:unit_test")
# What pass 2 does not rebuild (or re-test): the seeds pass 1 loaded seconds
# before, and the layers the scalars cannot change (tag unscaled: the typed
# inputs, strategy, execution, state, regime, risk), which pass 2 reads from
# the baseline's published rows (var reuse_baseline_layers; the on-run-start
# hook in macros/publish_run.sql links them).
PASS_2_EXCLUDE = (
    "resource_type:seed",
    "tag:unscaled",
    # Unit tests check code on fixed fixtures, not the run's data: pass 1 ran
    # them already. Only the comparison marts' unit tests (tag two_pass) are
    # left for pass 2, the first pass that builds those marts.
    "resource_type:unit_test,path:models/staging",
    "resource_type:unit_test,path:models/strategy",
    "resource_type:unit_test,path:models/execution",
    "resource_type:unit_test,path:models/allocator",
)


@dataclass(frozen=True)
class Settings:
    """Where things are: the dbt project, the database and the reports folder."""

    project_dir: Path
    db_path: Path
    reports_dir: Path
    verbose: bool = False
    # False: build seeds and models only, no data or unit tests
    run_tests: bool = True

    def run_dir(self, run_id: str) -> Path:
        return self.reports_dir / "runs" / run_id


@dataclass(frozen=True)
class RunRequest:
    """One dbt build of one run_id."""

    run_id: str
    strategy_profile: str
    start: dt.date
    end: dt.date
    mode: str = "off"
    precomputed_run_id: str | None = None
    # read the baseline's published unscaled layers instead of recomputing them
    reuse_baseline_layers: bool = False
    # rebuild a stored run id as a different run (var replace_run)
    replace_run: bool = False
    # input-file vars (prices_path, ...) that differ from dbt_project.yml's
    inputs: tuple[tuple[str, str], ...] = ()
    # a governor-config file's canonical settings as JSON (var governor_config)
    governor_config_json: str | None = None
    # a named calibration (var allocator_v1.calibration); None = the default
    calibration: str | None = None
    # store the run as a live run, updated daily (var live; live_workflow.py)
    live: bool = False
    # which session closes a rebalance period (var rebalance_calendar):
    # sessions or weekdays; None = the gate's default (weekdays when live)
    rebalance_calendar: str | None = None
    # Stage 6: a sleeve calibration (var sleeve_scalars); None = off
    sleeve_scalars: str | None = None
    # an annual rate (var risk_free_rate), or the path of a file of them (risk_free_path)
    risk_free_rate: float | str | None = None

    def parse_vars(self) -> dict[str, Any]:
        """The vars dbt reads while parsing: the sources' file locations."""
        return dict(self.inputs)

    def dbt_vars(self) -> dict[str, Any]:
        dbt_vars = dbt_invoke.run_vars(
            self.run_id,
            self.strategy_profile,
            self.start.isoformat(),
            self.end.isoformat(),
            self.mode,
            self.precomputed_run_id,
        )
        if self.calibration:
            dbt_vars["allocator_v1"]["calibration"] = self.calibration
        if self.reuse_baseline_layers:
            dbt_vars["reuse_baseline_layers"] = True
        if self.replace_run:
            dbt_vars["replace_run"] = True
        if self.governor_config_json:
            dbt_vars["governor_config"] = json.loads(self.governor_config_json)
        if self.live:
            dbt_vars["live"] = True
        if self.rebalance_calendar:
            dbt_vars["rebalance_calendar"] = self.rebalance_calendar
        if self.sleeve_scalars:
            dbt_vars["sleeve_scalars"] = self.sleeve_scalars
        if isinstance(self.risk_free_rate, str) and self.risk_free_rate:
            dbt_vars["risk_free_path"] = self.risk_free_rate
        elif self.risk_free_rate:
            dbt_vars["risk_free_rate"] = self.risk_free_rate
        return {**dbt_vars, **self.parse_vars()}


def resolve_settings(
    env: Mapping[str, str],
    package_root: Path,
    project_dir: str | None = None,
    reports_dir: str | None = None,
    verbose: bool = False,
    run_tests: bool = True,
    cwd: Path | None = None,
    packaged_project: Path | None = None,
) -> Settings:
    """Settings from options, then environment, then defaults.

    The dbt project: --project-dir, else $ALLOCATOR_PROJECT_DIR, else the
    repository checkout this package runs from (``package_root`` holds
    dbt_project.yml: an editable install), else the project shipped in an
    installed package, run from a copy in <results>/.allocator/project (see
    project_files for why a copy).

    The results directory (database, reports): $ALLOCATOR_HOME if set, else
    the project directory for a checkout or a named project (as before),
    else the current directory (``cwd``). Relative ALLOCATOR_DUCKDB_PATH,
    ALLOCATOR_REPORTS_DIR and --reports-dir resolve against it; check_project
    points dbt at the resolved database.

    ``packaged_project``: the shipped project (default: the installed
    package's own, None in a checkout).
    """
    import contextlib

    from allocator import project_files

    here = (cwd or Path.cwd()).resolve()
    home = env.get("ALLOCATOR_HOME")
    named = project_dir or env.get("ALLOCATOR_PROJECT_DIR")
    packaged = packaged_project or project_files.packaged_project()
    if named or packaged is None or project_files.is_checkout(package_root):
        # neither a checkout nor a shipped project: keep package_root, so
        # check_project says what is missing
        project = (here / (named or package_root)).resolve()
        results = (here / home).resolve() if home else project
    else:
        results = (here / home).resolve() if home else here
        project = project_files.runtime_dir(results)
        # done here, not only in check_project, because some commands read the
        # project before they build (a reused baseline's input defaults); a
        # failure (unwritable directory) is reported by check_project
        with contextlib.suppress(OSError):
            project_files.materialise(packaged, project)
    db_path = Path(env.get("ALLOCATOR_DUCKDB_PATH") or "allocator.duckdb")
    reports = Path(reports_dir or env.get("ALLOCATOR_REPORTS_DIR") or "reports")
    return Settings(
        project_dir=project,
        db_path=results / db_path,
        reports_dir=results / reports,
        verbose=verbose,
        run_tests=run_tests,
    )


def known_profiles(project_dir: Path) -> list[str] | None:
    """Profiles defined in the project's seed, or None when the seed is not there."""
    path = project_dir / PROFILES_SEED
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        return sorted(row["strategy_profile"] for row in csv.DictReader(handle))


def check_profile(project_dir: Path, profile: str) -> None:
    """An unknown profile is rejected before dbt parses (dbt would say the same)."""
    profiles = known_profiles(project_dir)
    if profiles is not None and profile not in profiles:
        raise AllocatorError(
            f"strategy profile {validate.quoted(profile)} is not defined in {PROFILES_SEED}; "
            f"known profiles: {', '.join(profiles)}"
        )


def known_calibrations(project_dir: Path) -> list[str]:
    """The calibrations a run can name: in both regime seeds and with defaults
    in run_config.CALIBRATIONS (the gate's own rule, run_config.resolve)."""
    names: set[str] = set(run_config.CALIBRATIONS)
    for seed in CALIBRATION_SEEDS:
        path = project_dir / seed
        if not path.is_file():
            return []
        with path.open(newline="", encoding="utf-8") as handle:
            names &= {row.get("calibration") or "" for row in csv.DictReader(handle)}
    return sorted(names)


def check_calibration(project_dir: Path, name: str) -> str:
    """A --calibration value, refused before dbt parses unless the seeds
    define it: it names rows, so anything else is a typo or not a name."""
    known = known_calibrations(project_dir)
    if name not in known:
        raise InputError(
            f"calibration {validate.quoted(name)} is not defined in "
            f"{' and '.join(str(seed) for seed in CALIBRATION_SEEDS)}; known calibrations: "
            f"{', '.join(known) or 'none (the seeds are missing)'}"
        )
    return name


def check_project(settings: Settings) -> None:
    """Before dbt runs: the project is there (an installed package's copy
    made current) and dbt will write the database these settings name."""
    import os

    from allocator import project_files

    packaged = project_files.packaged_project()
    if packaged is not None and project_files.is_runtime_dir(settings.project_dir):
        try:
            project_files.materialise(packaged, settings.project_dir)
        except OSError as exc:
            raise AllocatorError(
                f"cannot copy the packaged dbt project to {settings.project_dir}: {exc}; run "
                "from a writable directory or set ALLOCATOR_HOME to one"
            ) from exc
    if not (settings.project_dir / "dbt_project.yml").is_file():
        raise AllocatorError(
            f"{settings.project_dir} is not the allocator dbt project (no dbt_project.yml): "
            "set ALLOCATOR_PROJECT_DIR or --project-dir to the repository root or to a "
            "project written by `allocator init DIR`"
        )
    # profiles.yml reads ALLOCATOR_DUCKDB_PATH, relative to dbt's working
    # directory (the project). When the results live elsewhere (an installed
    # package, ALLOCATOR_HOME), dbt gets the resolved path; dbt runs in this
    # process, so that is this process's environment. Unchanged otherwise.
    configured = Path(os.environ.get("ALLOCATOR_DUCKDB_PATH") or "allocator.duckdb")
    if (settings.project_dir / configured).resolve() != settings.db_path.resolve():
        os.environ["ALLOCATOR_DUCKDB_PATH"] = str(settings.db_path)


def build_failure(
    label: str, outcome: dbt_invoke.DbtOutcome, settings: Settings, run_id: str | None = None
) -> AllocatorError:
    details = "\n".join("  " + line for e in outcome.errors for line in e.splitlines())
    state = _stored_state(outcome, settings, run_id)
    return AllocatorError(f"{label} failed: {outcome.describe()}\n{details}\n{state}")


def _stored_state(outcome: dbt_invoke.DbtOutcome, settings: Settings, run_id: str | None) -> str:
    """What a failed pass left in the database: nothing (runs are published
    whole, in one transaction, only when the build and its tests passed)."""
    what = f"run '{run_id}' was not published; " if run_id else ""
    return f"Nothing was stored: {what}every run in {settings.db_path} is as it was."


def build(
    settings: Settings,
    request: RunRequest,
    label: str,
    emit: Emit,
    manifest: Any = None,
    exclude: tuple[str, ...] = (),
) -> dbt_invoke.DbtOutcome:
    """dbt build of one run: seeds, models and their tests (with --no-tests
    the tests are excluded); raises on any failure."""
    database.check_writable(settings.db_path)
    exclude = exclude if settings.run_tests else (*exclude, *NO_TESTS_EXCLUDE)
    tests = "" if settings.run_tests else " (no tests)"
    emit(f"{label}: dbt build{tests} run_id={request.run_id} mode={request.mode} ...")
    extra = ("--exclude", *exclude) if exclude else ()
    outcome = dbt_invoke.invoke(
        "build", settings.project_dir, request.dbt_vars(), settings.verbose, manifest, extra
    )
    if not outcome.success:
        raise build_failure(label, outcome, settings, request.run_id)
    emit(f"{label}: {outcome.describe()}")
    return outcome


def parse(settings: Settings, emit: Emit, parse_vars: Mapping[str, Any] | None = None) -> Any:
    """Parse the project once for the builds that follow to reuse.

    Of the vars, dbt reads only the input-file locations while it parses (the
    sources' external_location); the run's own (run_id, profile, window,
    allocator_v1) are read when models run, so the manifest is the same
    whatever the run (tests/integration checks it). Parsing with only the
    input vars, none for the bundled data, also keeps dbt's partial-parse
    cache valid from one command to the next; changed --vars force a full
    parse.
    """
    outcome = dbt_invoke.invoke("parse", settings.project_dir, parse_vars or {}, settings.verbose)
    if not outcome.success:
        raise build_failure("dbt parse", outcome, settings)
    emit(f"parse: {outcome.describe()}")
    return outcome.manifest


def summary_source(run: Mapping[str, Any], settings: Settings) -> str:
    """The seeds' 'Source:' line for a run's registry row."""
    mode = run["allocator_mode"]
    if mode == "off":
        return "none: scalars computed and saved, weights not scaled"
    if mode == "compute":
        return "computed in this run (delivered by the run's cadence)"
    if run["precomputed_source_kind"] == "run":
        path = settings.run_dir(str(run["precomputed_source"])) / SCALAR_FILENAME
        return f"{path} (run {run['precomputed_source']})"
    return str(run["precomputed_source"])


def run_summary(con: Any, run: Mapping[str, Any], settings: Settings) -> str:
    """The === ALLOCATOR v1 SUMMARY === block of a stored run.

    In mode off no scalar touches the weights; the block then shows the lagged
    scalars a precomputed pass would apply, and says so.
    """
    mode = str(run["allocator_mode"])
    column = "risk_scalar_for_cadence" if mode == "off" else "risk_scalar_used"
    config = json.loads(str(run["config_json"]))
    cadence = config["allocator_v1"].get("cadence")
    # runs stored before calibrations existed record none
    calibration = (config.get("regime_calibration") or {}).get("name")
    rows = con.execute(
        f"select cast(rebalance_date as varchar), {column}, regime "
        "from allocator_scalars_at_rebalances where run_id = ? order by rebalance_date",
        [run["run_id"]],
    ).fetchall()
    rebalances = [RebalanceScalar(date, scalar, regime) for date, scalar, regime in rows]
    meta = con.execute(
        "select features_missing from allocator_state_v1_meta where run_id = ?", [run["run_id"]]
    ).fetchone()
    missing = json.loads(meta[0]) if meta and meta[0] else {}
    label = "off (scalars computed, not applied; figures are what pass 2 would apply)"
    return allocator_summary(
        label if mode == "off" else mode,
        summary_source(run, settings),
        rebalances,
        cadence=cadence,
        calibration=calibration,
        features_missing=missing if isinstance(missing, dict) else {},
    )


def export(settings: Settings, run_id: str, emit: Emit) -> list[Path]:
    """Write a run's artifacts (and, for a scaled run, its comparison) and print
    its summary block."""
    with database.read_only(settings.db_path) as con:
        run = database.require_run(con, run_id, settings.db_path)
        run_dir = settings.run_dir(run_id)
        written = export_run(con, run_id, run_dir)
        if is_scaled_run(con, run_id):
            written += write_comparison_files(con, run_id, run_dir)[1]
        emit(run_summary(con, run, settings))
    emit(f"artifacts: {len(written)} files in {run_dir}")
    return written


def check_request(settings: Settings, requests: list[RunRequest]) -> None:
    """Before dbt starts: every value is one the gate accepts as text (no
    braces, control characters or URL schemes: run_config.check_given), and
    every folder the command writes after publishing can be written. What
    runs after the commit then only fails on a fault of the machine."""
    for request in requests:
        try:
            run_config.check_given(request.dbt_vars())
        except run_config.ConfigProblem as exc:
            raise AllocatorError(f"run '{request.run_id}': {exc}. Nothing was stored.") from None
    try:
        run_config.check_text(str(settings.reports_dir), "--reports-dir")
    except run_config.ConfigProblem as exc:
        raise AllocatorError(f"{exc}. Nothing was stored.") from None
    folders = [settings.run_dir(request.run_id) for request in requests]
    for folder in [*folders, snapshots.snapshot_dir(settings.reports_dir)]:
        check_writable_folder(folder)


def check_writable_folder(folder: Path) -> None:
    """``folder`` is a writable directory, or can be made as one (its first
    existing ancestor is a writable directory); nothing is created."""
    import os

    path = folder
    while not (path.exists() or path.is_symlink()):
        path = path.parent
    if not path.is_dir():
        raise AllocatorError(
            f"{path} is a file where the folder {folder} goes: move it away, or choose another "
            "--reports-dir. Nothing was stored."
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise AllocatorError(
            f"{path} is not writable, and {folder} is written after the run is stored: make it "
            "writable, or choose another --reports-dir. Nothing was stored."
        )


def after_publish(settings: Settings, run_id: str, con: Any, emit: Emit) -> list[Path]:
    """Export a stored run and rewrite the snapshots. The run is committed
    already, so a failure here is one line that says what is stored and how
    to write the files again."""
    import duckdb

    try:
        written = export(settings, run_id, emit)
    except (OSError, duckdb.Error) as exc:
        raise AllocatorError(
            f"run '{run_id}' is stored in {settings.db_path}, but writing its files to "
            f"{settings.run_dir(run_id)} failed ({exc}); write them again with "
            f"`allocator export --run-id {run_id}`"
        ) from exc
    try:
        snapshot = snapshots.write_snapshots(con, settings.reports_dir)
    except (OSError, duckdb.Error) as exc:
        raise AllocatorError(
            f"run '{run_id}' is stored in {settings.db_path} and exported, but the Parquet "
            f"snapshots in {snapshots.snapshot_dir(settings.reports_dir)} were not written "
            f"({exc}); write them with `allocator snapshot`"
        ) from exc
    emit(snapshots.snapshot_line(snapshot, settings.reports_dir))
    return written


def run(settings: Settings, request: RunRequest, emit: Emit) -> list[Path]:
    """`allocator run`: build one run, export it, print its summary."""
    check_project(settings)
    check_profile(settings.project_dir, request.strategy_profile)
    check_request(settings, [request])
    # stg_run_config also accepts a run exported to <project>/reports/runs/
    # (relative to dbt's working directory) that is not in this database
    exported = settings.project_dir / "reports" / "runs" / str(request.precomputed_run_id)
    if request.precomputed_run_id and not (exported / SCALAR_FILENAME).is_file():
        check_stored_run(settings, request.precomputed_run_id, "--precomputed-run-id")
    # the write lock is held from the build to the export (snapshots.writer_lock)
    with snapshots.writer_lock(settings.db_path, emit) as con:
        manifest = parse(settings, emit, request.parse_vars())
        # only a scaled run has a comparison to build
        exclude = () if request.mode == "precomputed" else PASS_1_EXCLUDE
        build(settings, request, f"run {request.run_id}", emit, manifest, exclude)
        return after_publish(settings, request.run_id, con, emit)


def check_stored_run(settings: Settings, run_id: str, option: str) -> dict[str, Any]:
    """A run that must already be in the database (a baseline)."""
    try:
        with database.read_only(settings.db_path) as con:
            return database.require_run(con, run_id, settings.db_path)
    except AllocatorError as exc:
        raise AllocatorError(f"{option}: {exc}") from exc


def project_input_defaults(project_dir: Path) -> dict[str, str]:
    """The input-file vars' defaults (their definitions, models/run/_run__models.yml)."""
    from allocator import run_parameters

    return {var: str(run_parameters.parameter(var).default or "") for var in validate.INPUT_OPTIONS}


def stored_calibration(config: Mapping[str, Any]) -> str | None:
    """The named calibration a stored run's configuration records, or None
    (a whole governor from var governor_config, or a run stored before
    calibrations existed)."""
    name = (config.get("regime_calibration") or {}).get("name")
    return str(name) if name in run_config.CALIBRATIONS else None


def baseline_request(
    settings: Settings,
    baseline_run_id: str,
    profile: str | None,
    start: dt.date | None,
    end: dt.date | None,
    inputs: Mapping[str, str] | None = None,
) -> RunRequest:
    """The stored baseline's request; a different profile or window given on
    the command line would make the comparison meaningless, so it is refused."""
    stored = check_stored_run(settings, baseline_run_id, "--baseline-run-id")
    stored_config = json.loads(str(stored["config_json"]))
    stored_inputs = stored_config["inputs"]
    defaults = project_input_defaults(settings.project_dir)
    request = RunRequest(
        baseline_run_id,
        str(stored["strategy_profile"]),
        stored["start_date"],
        stored["end_date"],
        inputs=tuple(
            (var, str(path))
            for var, path in sorted(stored_inputs.items())
            if str(path or "") != defaults.get(var, "")
        ),
        rebalance_calendar=stored_config.get("rebalance_calendar"),
        sleeve_scalars=stored_config.get("sleeve_scalars"),
        # the stored run's named calibration: pass 2 scales with the same
        # governor, so a baseline stored under an older default still reuses
        calibration=stored_calibration(stored_config),
    )
    given = {"--strategy-profile": profile, "--start": start, "--end": end}
    actual: dict[str, Any] = {
        "--strategy-profile": request.strategy_profile,
        "--start": request.start,
        "--end": request.end,
    }
    for var, option in validate.INPUT_OPTIONS.items():
        # relative paths in a stored configuration are relative to the project
        path = str(stored_inputs.get(var) or "")
        given[option] = (inputs or {}).get(var)
        actual[option] = str((settings.project_dir / path).resolve()) if path else ""
    clashes = [
        f"{k} {v or 'none'} (baseline: {actual[k] or 'none'})"
        for k, v in given.items()
        if v is not None and v != actual[k]
    ]
    if clashes:
        raise AllocatorError(
            f"baseline '{baseline_run_id}' was built for {request.strategy_profile} "
            f"{request.start} to {request.end}, but {', '.join(clashes)} was given: drop these "
            "options to audit the baseline's own profile, window and inputs, or run a new "
            "baseline"
        )
    return request


def two_pass(
    settings: Settings,
    baseline: RunRequest,
    scaled_run_id: str,
    emit: Emit,
    reuse_baseline: bool = False,
) -> dict[str, Any]:
    """`allocator two-pass`: baseline (unless reused), scaled run with the
    baseline's precomputed scalars, then the comparison files.

    dbt parses once and both builds reuse the manifest (see parse()).
    """
    check_project(settings)
    check_profile(settings.project_dir, baseline.strategy_profile)
    if scaled_run_id == baseline.run_id:
        raise AllocatorError(
            f"--scaled-run-id {validate.quoted(scaled_run_id)} equals the baseline run id: give "
            "the scaled run its own id"
        )
    scaled = replace(
        baseline, run_id=scaled_run_id, mode="precomputed", precomputed_run_id=baseline.run_id
    )
    check_request(settings, [baseline, scaled])
    # The write lock is held from pass 1 to the comparison, so no other
    # process opens the file between the passes (snapshots.writer_lock);
    # after each published pass the marts are snapshot to Parquet for readers.
    with snapshots.writer_lock(settings.db_path, emit) as con:
        manifest = parse(settings, emit, baseline.parse_vars())
        if reuse_baseline:
            emit(f"pass 1/2: reusing stored baseline {baseline.run_id}")
        else:
            build(settings, baseline, "pass 1/2 (baseline)", emit, manifest, PASS_1_EXCLUDE)
            after_publish(settings, baseline.run_id, con, emit)
        # pass 2 reads the baseline's published unscaled layers; the gate checks
        # they were built with this configuration. A stored baseline (pass 1
        # skipped) may be older than the seeds in the build schema: reload them.
        # Sleeve scalars read the strategy's sleeve weights, which a baseline
        # does not publish, so such a pass 2 builds the whole run.
        scaled = replace(scaled, reuse_baseline_layers=not scaled.sleeve_scalars)
        exclude = (
            tuple(e for e in PASS_2_EXCLUDE if not (reuse_baseline and e == "resource_type:seed"))
            if scaled.reuse_baseline_layers
            else ()
        )
        build(settings, scaled, "pass 2/2 (scaled)", emit, manifest, exclude)
        # the scaled run's export writes the comparison files as well
        after_publish(settings, scaled.run_id, con, emit)
        with database.read_only(settings.db_path) as reader:
            return load_comparison(reader, scaled.run_id)


def regime_report_text(settings: Settings, run_id: str, top_n: int = 10) -> str:
    """`allocator regime-report`: distribution, longest runs and top transitions."""
    with database.read_only(settings.db_path) as con:
        database.require_run(con, run_id, settings.db_path)
        rows = con.execute(
            "select cast(date as varchar), regime from allocator_regime_v1 "
            "where run_id = ? and regime is not null order by date",
            [run_id],
        ).fetchall()
    return regime_report(run_id, [r[0] for r in rows], [r[1] for r in rows], top_n)


def result_locations(settings: Settings, scaled_run_id: str) -> str:
    """Where a two-pass put its results."""
    run_dir = settings.run_dir(scaled_run_id)
    return "\n".join(
        [
            "Results:",
            f"  database      {settings.db_path}",
            "                (marts two_pass_comparison, two_pass_metrics, two_pass_flags, ...)",
            f"  reports       {settings.reports_dir / 'runs'}",
            f"  comparison    {run_dir / 'two_pass_comparison.md'}",
            f"  HTML report   {run_dir / COMPARISON_HTML}",
        ]
    )
