"""The fault suite (issue 11): whatever goes wrong in a build, every stored run
is as it was.

A build writes one run into schema `build`; the on-run-end hook publishes it
into the run-keyed tables of schemas `artifacts` and `marts` in one
transaction, only when every model was built and nothing failed
(macros/publish_run.sql). Each case below starts from a copy of one template
database holding a stored baseline ('base') and its scaled run ('scaled',
built with the plain-dbt two-pass), breaks a build of plain `dbt` in one way,
and compares a hash of every stored table (:func:`stored_state`, taken
read-only after dbt ended) with the template's:

1. injection payloads in every var that reaches SQL or a file name, and in
   names of files that exist;
2. glob characters in a path;
3. run-id reuse of each kind, and replace_run marking comparisons stale;
4. kill -9 after the gate, mid-build, right before publishing, and inside the
   publishing commit (strace kills dbt in the middle of its WAL write);
5. a data test failing mid-build and one failing last;
6. a full disk during the build and during the publishing commit (tmpfs);
7. a second writer while a build runs;
8. partial selections (`--select weights_raw`, `--empty`).

dbt runs as a subprocess (its output is watched to time the faults). The
refusal cases run two at a time; the rest one at a time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.faults_support import (
    FIXTURE_INPUTS,
    PASS_2,
    PROJECT_DIR,
    DbtResult,
    Watched,
    copy_db,
    export_scalars,
    line_has,
    node_done_counter,
    of_runs,
    query,
    run_dbt,
    run_state,
    scaled_vars,
    state_diff,
    stored_state,
    tiny_vars,
)

#: dbt processes the refusal cases run at a time (the suite's budget: 2 cores).
WORKERS = int(os.environ.get("ALLOCATOR_FAULT_WORKERS", "2"))
#: Columns that differ between two builds of the same run.
VOLATILE = ("created_at", "dbt_invocation_id", "scaled_created_at")
#: A rebuild of the stored baseline that would change its published rows.
REBUILD = tiny_vars("base", allocator_regime_min_days=7)

SQ_PAYLOAD = "x'); drop table marts.runs; --"
DQ_PAYLOAD = 'x"); drop schema marts cascade; select ("'


# --------------------------------------------------------------------------- template


@dataclass(frozen=True)
class Template:
    """The database every case copies: baseline 'base' and scaled run 'scaled'."""

    db: Path
    state: dict[str, str]
    runs: dict[str, str]
    scalar_file: Path

    def copy(self, directory: Path) -> Path:
        return copy_db(self.db, directory)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    directory = tmp_path_factory.mktemp("faults_template")
    db = directory / "template.duckdb"
    baseline = run_dbt(["build"], db, tiny_vars("base"))
    assert baseline.returncode == 0, baseline.tail()
    scaled = run_dbt(list(PASS_2), db, scaled_vars("scaled", "base", reuse_baseline_layers=True))
    assert scaled.returncode == 0, scaled.tail()
    assert query(db, "select run_id from marts.runs order by 1") == [("base",), ("scaled",)]
    assert query(db, "select comparison_status from marts.runs where run_id = 'scaled'") == [
        ("current",)
    ]
    return Template(
        db=db,
        state=stored_state(db),
        runs=run_state(db),
        scalar_file=export_scalars(db, "base", directory / "base_scalars.csv"),
    )


def assert_unchanged(template: Template, db: Path, result: DbtResult | None = None) -> None:
    after = stored_state(db)
    context = f"\n--- dbt output ---\n{result.tail()}" if result is not None else ""
    assert after == template.state, (
        f"stored state changed:\n{state_diff(template.state, after)}{context}"
    )


# --------------------------------------------------------------------------- refusals


@dataclass(frozen=True)
class Refusal:
    """A build that must fail without publishing anything."""

    id: str
    dbt_vars: Callable[[Template, Path], Mapping[str, Any]]
    expected: tuple[str, ...]
    args: tuple[str, ...] = ("build",)
    #: run on the case's copy of the template (its directory, its database)
    prepare: Callable[[Path, Path], None] = field(default=lambda _directory, _db: None)


def _fixed(dbt_vars: Mapping[str, Any]) -> Callable[[Template, Path], Mapping[str, Any]]:
    return lambda _template, _directory: dbt_vars


def _gate(var: str) -> tuple[str, ...]:
    """What the gate says when it refuses `var`."""
    return ("Invalid Input Error: run ", f": var {var}: ")


def _injections() -> list[Refusal]:
    """The single-quote payload in each var on its own (the gate must name the
    var), then the double-quote payload in every var at once: the vars all
    travel together through stg_run__vars' literal, the sources' paths and the
    on-run-start links before the gate refuses the first of them."""
    payload, path = SQ_PAYLOAD, SQ_PAYLOAD + ".csv"  # past the suffix check
    precomputed = {"enabled": True, "mode": "precomputed"}
    one_var = {
        "run_id": tiny_vars(payload),
        "strategy_profile": tiny_vars("inj", strategy_profile=payload),
        "start": tiny_vars("inj", start=payload),
        "end": tiny_vars("inj", end=payload),
        "prices_path": tiny_vars("inj", prices_path=path),
        "benchmark_path": tiny_vars("inj", benchmark_path=path),
        "weights_path": tiny_vars("inj", weights_path=path),
        "portfolio_returns_path": tiny_vars("inj", weights_path="", portfolio_returns_path=path),
        "allocator_v1.precomputed_run_id": tiny_vars(
            "inj", allocator_v1={**precomputed, "precomputed_run_id": payload}
        ),
        "allocator_v1.precomputed_scalar_filename": tiny_vars(
            "inj",
            allocator_v1={
                **precomputed,
                "precomputed_run_id": None,
                "precomputed_scalar_filename": path,
            },
        ),
        "allocator_v1.mode": tiny_vars("inj", allocator_v1={"enabled": True, "mode": payload}),
        "publish_run": tiny_vars("inj", publish_run=payload),
    }
    cases = [Refusal(f"inject-{var}", _fixed(v), _gate(var)) for var, v in one_var.items()]
    # with reuse_baseline_layers the baseline id reaches SQL before the gate:
    # the on-run-start hook relinks the baseline's layers with it (here over
    # the views the template's own pass 2 left in `build`)
    cases.append(
        Refusal(
            "inject-allocator_v1.precomputed_run_id-linked",
            _fixed(scaled_vars("inj", payload, reuse_baseline_layers=True)),
            _gate("allocator_v1.precomputed_run_id"),
            args=PASS_2,
        )
    )
    dq, dq_path = DQ_PAYLOAD, DQ_PAYLOAD + ".csv"
    every_var = {
        "run_id": dq,
        "strategy_profile": dq,
        "start": dq,
        "end": dq,
        "prices_path": dq_path,
        "benchmark_path": dq_path,
        "weights_path": dq_path,
        "portfolio_returns_path": dq_path,
        "allocator_v1": {
            "enabled": True,
            "mode": dq,
            "precomputed_run_id": dq,
            "precomputed_scalar_filename": dq_path,
        },
        "reuse_baseline_layers": True,
        "publish_run": dq,
    }
    cases.append(
        Refusal(
            "inject-every-var-double-quote",
            _fixed(every_var),
            _gate("run_id"),
            args=PASS_2,
        )
    )
    return cases


def _glob_files(directory: Path, _db: Path) -> None:
    for name in ("prices1.csv", "prices2.csv", "prices[1].csv"):
        shutil.copyfile(FIXTURE_INPUTS / "tiny_prices.csv", directory / name)


def _globs() -> list[Refusal]:
    return [
        Refusal(
            f"glob-{label}",
            lambda _t, d, name=name: tiny_vars("globbed", prices_path=str(d / name)),
            (*_gate("prices_path"), f"contains {chars}", "which DuckDB would expand"),
            prepare=_glob_files,
        )
        for label, name, chars in (
            ("brackets", "prices[1].csv", "[ ]"),
            ("star", "prices*.csv", "*"),
        )
    ]


def _reuse() -> list[Refusal]:
    from_file = {
        "enabled": True,
        "mode": "precomputed",
        "precomputed_run_id": None,
    }
    return [
        Refusal(
            "reuse-baseline-with-another-profile",
            _fixed(tiny_vars("base", strategy_profile="trend_only_v1")),
            (
                *_gate("run_id"),
                "'base' is already stored as a different run",
                "It is the baseline of scaled run(s) scaled",
                "replace_run: true",
            ),
        ),
        Refusal(
            "reuse-baseline-id-as-its-own-scaled-run",
            _fixed(scaled_vars("base", "base")),
            (*_gate("allocator_v1.precomputed_run_id"), "'base' is the run being built"),
        ),
        Refusal(
            "reuse-baseline-id-as-scaled-run-of-a-file",
            lambda t, _d: tiny_vars(
                "base",
                allocator_v1={**from_file, "precomputed_scalar_filename": str(t.scalar_file)},
            ),
            (*_gate("run_id"), "'base' is already stored as a different run", "kind"),
        ),
        Refusal(
            "reuse-scaled-id-as-baseline",
            _fixed(tiny_vars("scaled")),
            (*_gate("run_id"), "'scaled' is already stored as a different run", "kind"),
        ),
        Refusal(
            "reuse-scaled-run-as-baseline-of-another",
            _fixed(scaled_vars("rescaled", "scaled")),
            (
                *_gate("allocator_v1.precomputed_run_id"),
                "'scaled' is a scaled run",
                "cannot serve as a baseline",
            ),
        ),
    ]


def _heavy_weights(directory: Path, _db: Path) -> None:
    # short 60x AAA the day before it rises 3%: the book loses 180% in a day,
    # which passes the gate and fails portfolio_returns_unscaled's range test
    (directory / "heavy_weights.csv").write_text(
        "date,symbol,weight,sleeve\n"
        "2021-01-05,AAA,0.6,core\n2021-01-05,BBB,0.4,core\n"
        "2021-01-07,AAA,-60,core\n2021-01-07,BBB,1.0,core\n"
    )


def _others() -> list[Refusal]:
    return [
        Refusal(
            "failing-test-mid-build",
            lambda _t, d: tiny_vars("heavy", weights_path=str(d / "heavy_weights.csv")),
            (
                "FAIL 1 accepted_range_portfolio_returns_unscaled",
                "Run not published (failed: accepted_range_portfolio_returns_unscaled",
            ),
            prepare=_heavy_weights,
        ),
        Refusal(
            # reading the baseline's layers while also rebuilding them would
            # make dbt replace a linked view it takes for a table
            "reuse-layers-while-rebuilding-them",
            _fixed(scaled_vars("again", "base", reuse_baseline_layers=True)),
            (
                "reuse_baseline_layers: true reads the baseline base's published layers",
                "--exclude tag:unscaled",
            ),
        ),
        Refusal(
            "partial-selection",
            _fixed(REBUILD),
            ("Run not published (this invocation did not build", "build the whole project"),
            args=("build", "--select", "weights_raw"),
        ),
        Refusal(
            "empty-dry-run",
            _fixed(REBUILD),
            # the one-row check of the run's configuration fails (and the
            # input reads beside the gate find their files empty)
            (
                "FAIL 1 exactly_one_row_stg_run",
                "Run not published (failed: ",
                "exactly_one_row_stg_run__vars_ (fail)",
            ),
            args=("build", "--empty"),
        ),
    ]


REFUSALS = {case.id: case for case in [*_injections(), *_globs(), *_reuse(), *_others()]}


@dataclass(frozen=True)
class Outcome:
    result: DbtResult
    state: dict[str, str]
    runs: list[str]


def _refuse(case: Refusal, template: Template, directory: Path) -> Outcome:
    db = template.copy(directory)
    case.prepare(directory, db)
    result = run_dbt(list(case.args), db, case.dbt_vars(template, directory))
    runs = [row[0] for row in query(db, "select run_id from marts.runs order by 1")]
    outcome = Outcome(result, stored_state(db), runs)
    for leftover in (db, db.with_name(db.name + ".wal")):
        leftover.unlink(missing_ok=True)  # 25 MB a case; the output tells the story
    return outcome


@pytest.fixture(scope="module")
def refusals(
    template: Template, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Future[Outcome]]]:
    """The selected refusal cases, run WORKERS at a time in a pool that the
    parametrized test below reads from (each case on its own template copy)."""
    root = tmp_path_factory.mktemp("faults_refusals")
    selected = [
        item.callspec.params["case_id"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_refused_build_leaves_every_stored_run"
    ]
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    try:
        yield {
            case_id: pool.submit(_refuse, REFUSALS[case_id], template, root / case_id)
            for case_id in selected
        }
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case_id", list(REFUSALS))
def test_refused_build_leaves_every_stored_run(
    case_id: str, refusals: dict[str, Future[Outcome]], template: Template
) -> None:
    outcome = refusals[case_id].result()
    result = outcome.result
    assert result.returncode not in (0, None), result.tail()
    for text in REFUSALS[case_id].expected:
        assert text in result.output, f"missing {text!r} in:\n{result.tail()}"
    assert "Published run" not in result.output
    assert outcome.runs == ["base", "scaled"]
    assert outcome.state == template.state, (
        f"stored state changed:\n{state_diff(template.state, outcome.state)}\n{result.tail()}"
    )


def test_payloads_in_existing_file_names_are_read_literally(
    template: Template, tmp_path: Path
) -> None:
    """The gate lets a file through when it exists: names holding the payloads
    reach DuckDB's readers (sources, the scalar loader) as quoted literals."""
    db = template.copy(tmp_path)
    files = tmp_path / "inputs"
    files.mkdir()
    prices = files / f"prices {SQ_PAYLOAD}.csv"
    weights = files / f"weights {DQ_PAYLOAD}.csv"
    benchmark = files / f"benchmark {SQ_PAYLOAD} {DQ_PAYLOAD}.csv"
    scalars = files / f"scalars {SQ_PAYLOAD}.csv"
    shutil.copyfile(FIXTURE_INPUTS / "tiny_prices.csv", prices)
    shutil.copyfile(FIXTURE_INPUTS / "tiny_weights.csv", weights)
    benchmark.write_text(
        "".join(
            line
            for line in (FIXTURE_INPUTS / "tiny_prices.csv").read_text().splitlines(True)
            if ",BBB," not in line
        )
    )
    shutil.copyfile(template.scalar_file, scalars)
    dbt_vars = tiny_vars(
        "quoted",
        prices_path=str(prices),
        weights_path=str(weights),
        benchmark_path=str(benchmark),
        allocator_v1={
            "enabled": True,
            "mode": "precomputed",
            "precomputed_run_id": None,
            "precomputed_scalar_filename": str(scalars),
        },
    )
    result = run_dbt(["build"], db, dbt_vars)
    assert result.returncode == 0, result.tail()
    assert "Published run quoted" in result.output
    assert query(db, "select precomputed_source from marts.runs where run_id = 'quoted'") == [
        (str(scalars),)
    ]
    after = run_state(db)
    assert of_runs(after, ["base", "scaled"]) == template.runs, state_diff(
        template.runs, of_runs(after, ["base", "scaled"])
    )
    assert query(db, "select count(*) from marts.portfolio_returns where run_id = 'quoted'") == [
        (4,)
    ]


def test_replace_run_marks_the_scaled_runs_comparison_stale(
    template: Template, tmp_path: Path
) -> None:
    db = template.copy(tmp_path)
    result = run_dbt(
        ["build"], db, tiny_vars("base", strategy_profile="trend_only_v1", replace_run=True)
    )
    assert result.returncode == 0, result.tail()
    assert "Published run base" in result.output
    assert query(db, "select strategy_profile from marts.runs where run_id = 'base'") == [
        ("trend_only_v1",)
    ]
    assert query(db, "select comparison_status from marts.runs where run_id = 'scaled'") == [
        ("stale",)
    ]
    assert query(
        db, "select comparison_status from marts.two_pass_comparison where scaled_run_id = 'scaled'"
    ) == [("stale",)]
    # every other row of the scaled run is as it was
    before = of_runs(run_state(template.db, ["comparison_status"]), ["scaled"])
    after = of_runs(run_state(db, ["comparison_status"]), ["scaled"])
    assert after == before, state_diff(before, after)


def test_a_dry_run_stores_nothing(template: Template, tmp_path: Path) -> None:
    """publish_run: false builds and tests the whole run, then stores nothing."""
    db = template.copy(tmp_path)
    result = run_dbt(["build"], db, {**REBUILD, "publish_run": False})
    assert result.returncode == 0, result.tail()
    assert "not published (publish_run: false)" in result.output, result.tail()
    assert "Published run" not in result.output
    assert_unchanged(template, db, result)


# --------------------------------------------------------------------------- kill -9

KILL_POINTS: dict[str, Callable[[], Callable[[str], bool]]] = {
    # the gate has validated the vars: the run's build tables are being replaced
    "after-gate": lambda: line_has("OK created sql table model build.stg_run_config "),
    # half the run is built (the unscaled book), the allocator layers are not
    # (an incremental model since live runs: "OK created sql incremental model")
    "mid-build": lambda: (
        lambda line: "OK created sql" in line and " model build.portfolio_returns_unscaled " in line
    ),
    # every node is done: the next thing dbt does is the publishing hook
    "before-publish": node_done_counter,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_leaves_every_stored_run(point: str, template: Template, tmp_path: Path) -> None:
    db = template.copy(tmp_path)
    build = Watched(["build"], db, REBUILD)
    try:
        seen = build.until(KILL_POINTS[point]())
        assert seen is not None, "".join(build.lines)[-4000:]
        build.signal(signal.SIGKILL)
        result = build.finish()
    finally:
        build.stop()
    assert result.killed, result.tail()
    assert "Published run" not in result.output
    assert_unchanged(template, db, result)


def _strace() -> str:
    path = shutil.which("strace")
    if path is None:
        pytest.skip("strace is not installed: cannot stop dbt inside the publishing commit")
    return path


def test_kill_9_inside_the_publishing_commit(template: Template, tmp_path: Path) -> None:
    """dbt is killed while DuckDB writes the publishing transaction to the WAL:
    strace, attached once every node is done, sends SIGKILL as the commit's
    second WAL write starts, so the WAL ends in a torn transaction. DuckDB
    must drop it on opening; the next build then publishes normally."""
    strace = _strace()
    db = template.copy(tmp_path)
    wal = Path(os.path.realpath(db)).with_name(db.name + ".wal")
    trace = tmp_path / "strace.txt"
    build = Watched(["build"], db, REBUILD, work_dir=tmp_path / "work")
    tracer = None
    try:
        assert build.until(node_done_counter()) is not None, "".join(build.lines)[-4000:]
        build.signal(signal.SIGSTOP)
        wal_before = wal.stat().st_size
        tracer = subprocess.Popen(
            [
                strace,
                "-f",
                "-p",
                str(build.pid),
                "-P",
                str(wal),
                "-e",
                "trace=write",
                "-e",
                "inject=write:signal=SIGKILL:when=2",
                "-o",
                str(trace),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert tracer.stderr is not None
        attached = tracer.stderr.readline()
        assert "attached" in attached, attached
        build.signal(signal.SIGCONT)
        result = build.finish()
        tracer.wait(timeout=60)
    finally:
        build.stop()
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait(timeout=60)
    traced = trace.read_text()
    assert result.killed, result.tail()
    assert traced.count(" write(") >= 2 and "killed by SIGKILL" in traced, traced[-3000:]
    assert "Published run" not in result.output
    # the torn transaction is on disk: one WAL write got through
    assert wal.stat().st_size > wal_before
    assert_unchanged(template, db, result)
    # a writer replays the WAL (dropping the torn tail) and checkpoints
    duckdb.connect(str(db)).close()
    assert not wal.exists()
    assert_unchanged(template, db)
    again = run_dbt(["build"], db, REBUILD, work_dir=tmp_path / "work")
    assert again.returncode == 0, again.tail()
    assert query(
        db,
        "select config_json::json->>'$.allocator_parameters.regime_min_days' "
        "from marts.runs where run_id = 'base'",
    ) == [("7",)]
    # the baseline's configuration changed: its scaled run is kept, marked stale
    assert query(db, "select comparison_status from marts.runs where run_id = 'scaled'") == [
        ("stale",)
    ]
    ignored = (*VOLATILE, "comparison_status")
    assert of_runs(run_state(db, ignored), ["scaled"]) == of_runs(
        run_state(template.db, ignored), ["scaled"]
    )


# --------------------------------------------------------------------------- the rest


def test_failing_test_at_the_end_of_the_build(template: Template, tmp_path: Path) -> None:
    """A copy of the project with one more singular test, on the last mart, that
    always fails: every model of the run is built, then the run is refused."""
    project = tmp_path / "project"
    for name in ("dbt_project.yml", "profiles.yml"):
        project.mkdir(exist_ok=True)
        shutil.copyfile(PROJECT_DIR / name, project / name)
    for name in ("models", "macros", "seeds", "analyses", "tests/generic", "tests/singular"):
        if (PROJECT_DIR / name).exists():
            shutil.copytree(PROJECT_DIR / name, project / name)
    (project / "tests" / "singular" / "assert_fault_injected_last.sql").write_text(
        "-- the fault suite's failing test: one row whatever the run\n"
        "select count(*) as two_pass_rows from {{ ref('two_pass_comparison') }}\n"
    )
    db = template.copy(tmp_path)
    result = run_dbt(["build"], db, REBUILD, project_dir=project)
    assert result.returncode != 0, result.tail()
    assert "FAIL 1 assert_fault_injected_last" in result.output, result.tail()
    assert "Run not published (failed: assert_fault_injected_last (fail))" in result.output
    assert "OK created sql table model build.two_pass_comparison" in result.output
    assert_unchanged(template, db, result)


def _mount_tmpfs(directory: Path, size_mb: int) -> None:
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs, and mounting one needs root")
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a full disk: {mounted.stderr.strip()}")


def _fill(directory: Path, keep: int) -> None:
    """Take all free space of `directory`'s file system but `keep` bytes."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize
    with open(directory / "filler", "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, free - keep)
    stats = os.statvfs(directory)
    assert stats.f_bavail * stats.f_frsize <= keep


DISK_FULL_POINTS: dict[str, tuple[Callable[[], Callable[[str], bool]], int, str]] = {
    # the disk fills once the gate passed: the next table's commit fails
    "mid-build": (KILL_POINTS["after-gate"], 0, "Run not published (failed: "),
    # one page left once every node is done: the publishing commit's WAL
    # write (several pages) runs out of space part way
    "in-publishing-commit": (node_done_counter, 4096, "ERROR=0"),
}


@pytest.mark.parametrize("point", list(DISK_FULL_POINTS))
def test_full_disk_leaves_every_stored_run(point: str, template: Template, tmp_path: Path) -> None:
    when, keep, expected = DISK_FULL_POINTS[point]
    disk = tmp_path / "disk"
    size_mb = template.db.stat().st_size // 2**20 + 16
    _mount_tmpfs(disk, size_mb)
    try:
        db = template.copy(disk)
        build = Watched(["build"], db, REBUILD, work_dir=tmp_path / "work")
        try:
            assert build.until(when()) is not None, "".join(build.lines)[-4000:]
            build.signal(signal.SIGSTOP)
            _fill(disk, keep)
            build.signal(signal.SIGCONT)
            result = build.finish()
        finally:
            build.stop()
        (disk / "filler").unlink()
        saved = copy_db(db, tmp_path / "saved")
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    assert result.returncode not in (0, None) and not result.killed, result.tail()
    assert "Published run" not in result.output
    assert "Failed to commit: Could not write file" in result.output, result.tail()
    assert "No space left on device" in result.output, result.tail()
    assert expected in result.output, result.tail()
    assert_unchanged(template, saved, result)


def test_a_second_writer_is_locked_out(template: Template, tmp_path: Path) -> None:
    """While one build holds the database, a second build of another run fails
    on DuckDB's file lock; the first one completes and publishes its run."""
    db = template.copy(tmp_path)
    first = Watched(["build"], db, tiny_vars("first", start="2021-01-07"), work_dir=tmp_path / "a")
    try:
        # the first build holds the database from its first query on: pause it
        # there, so the second one surely runs while it is in the middle
        assert first.until(line_has("OK created sql table model build.stg_run_config ")), "".join(
            first.lines
        )[-4000:]
        first.signal(signal.SIGSTOP)
        second = run_dbt(["build"], db, tiny_vars("second"), work_dir=tmp_path / "b")
        first.signal(signal.SIGCONT)
        result = first.finish()
    finally:
        first.signal(signal.SIGCONT)
        first.stop()
    assert second.returncode != 0, second.tail()
    assert "Could not set lock on file" in second.output, second.tail()
    assert result.returncode == 0, result.tail()
    assert "Published run first" in result.output
    assert query(db, "select run_id from marts.runs order by 1") == [
        ("base",),
        ("first",),
        ("scaled",),
    ]
    after = run_state(db)
    assert of_runs(after, ["base", "scaled"]) == template.runs, state_diff(
        template.runs, of_runs(after, ["base", "scaled"])
    )


def test_helpers_see_a_change(template: Template, tmp_path: Path) -> None:
    """stored_state and run_state notice one changed value, row or table."""
    db = template.copy(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update artifacts.weights_raw set weight = weight + 1e-15 where run_id = 'base'"
        )
    changed = stored_state(db)
    assert {k for k in changed if changed[k] != template.state[k]} == {"artifacts.weights_raw"}
    assert {k for k, v in run_state(db).items() if template.runs[k] != v} == {
        "artifacts.weights_raw/base"
    }
    with duckdb.connect(str(db)) as con:
        con.execute("drop table marts.two_pass_flags")
    assert "marts.two_pass_flags" not in stored_state(db)
