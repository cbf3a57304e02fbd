"""Installing without a checkout (issue 14): the wheel carries the dbt project,
and an installed `allocator` runs it from any directory.

test_wheel_in_a_fresh_venv builds the wheel, installs it with its
dependencies from the package index into a new virtual environment and runs
the demo there from an unrelated directory: about 70 s on 2 cores with the
dependencies from a local package mirror, longer on a clean machine that
downloads dbt, DuckDB and pandas from PyPI (pip's cache helps the next run).
`make test` runs it; ALLOCATOR_SKIP_INSTALL_TEST=1 skips it for quick local
runs. The other tests here check the same decisions in-process, in seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from allocator import project_files, workflow
from allocator.errors import AllocatorError

PROJECT_DIR = Path(__file__).resolve().parents[2]
SKIP_VARIABLE = "ALLOCATOR_SKIP_INSTALL_TEST"
# what a source tree holds besides the sources: left out of the copy the wheel
# is built from (the way a clean checkout would be)
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "target",
    "logs",
    "reports",
    "work",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "*.duckdb",
    "*.duckdb.wal",
)


# --------------------------------------------------------------------------
# in-process: what ships, where the project and the results are
# --------------------------------------------------------------------------


def test_the_shipped_files_are_the_dbt_project_and_its_demo_data() -> None:
    files = {path.as_posix() for path in project_files.project_file_list(PROJECT_DIR)}
    assert {"dbt_project.yml", "profiles.yml", "seeds/strategy_profiles.csv"} <= files
    # every folder dbt reads, dbt's tests among them, and the demo data
    for prefix, suffix in (
        ("models/", ".sql"),
        ("models/", ".yml"),
        ("models/", ".py"),  # dbt Python models
        ("macros/", ".sql"),
        ("analyses/", ".sql"),
        ("tests/generic/", ".sql"),
        ("tests/singular/", ".sql"),
        ("data/demo/", ".parquet"),
    ):
        assert [f for f in files if f.startswith(prefix) and f.endswith(suffix)], prefix + suffix
    # the pytest suites and their fixtures are not part of the dbt project
    assert not [f for f in files if f.endswith(".py") and not f.startswith("models/")]
    assert not [f for f in files if f.startswith(("tests/fixtures", "python/", "benchmarks/"))]


def test_every_file_a_var_defaults_to_ships() -> None:
    """A var's default file (meta default in models/run/_run__models.yml) must
    be in every copy of the project, or the var fails in an `allocator init`
    project and an installed package (the tuning grid once did)."""
    text = (PROJECT_DIR / "models" / "run" / "_run__models.yml").read_text(encoding="utf-8")
    defaults = set(re.findall(r"default: (data/[^,}\s]+)", text))
    assert {"data/demo/sp500_prices.parquet", "data/tuning/default_grid.json"} <= defaults
    files = {path.as_posix() for path in project_files.project_file_list(PROJECT_DIR)}
    assert defaults <= files, defaults - files
    manifest = (PROJECT_DIR / "MANIFEST.in").read_text(encoding="utf-8")
    for default in defaults:
        folder = default.rsplit("/", 1)[0]
        suffix = default.rsplit(".", 1)[1]
        assert re.search(rf"recursive-include {folder} .*\*\.{suffix}", manifest), default


def test_a_checkout_runs_in_place_as_before(tmp_path: Path) -> None:
    settings = workflow.resolve_settings({}, PROJECT_DIR, cwd=tmp_path)
    assert settings.project_dir == PROJECT_DIR
    assert settings.db_path == PROJECT_DIR / "allocator.duckdb"
    assert settings.reports_dir == PROJECT_DIR / "reports"
    assert not (tmp_path / ".allocator").exists()
    home = workflow.resolve_settings({"ALLOCATOR_HOME": str(tmp_path)}, PROJECT_DIR)
    assert (home.project_dir, home.db_path) == (PROJECT_DIR, tmp_path / "allocator.duckdb")


@pytest.fixture
def packaged(tmp_path: Path) -> Path:
    """A stand-in for an installed wheel's allocator/_project."""
    project_files.copy_project(PROJECT_DIR, tmp_path / "site" / "allocator" / "_project")
    return tmp_path / "site" / "allocator" / "_project"


def test_an_installed_package_runs_a_copy_and_writes_results_here(
    tmp_path: Path, packaged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "anywhere"
    here.mkdir()
    site = tmp_path / "site"
    settings = workflow.resolve_settings({}, site, cwd=here, packaged_project=packaged)
    assert settings.project_dir == here / ".allocator" / "project"
    assert (settings.project_dir / "dbt_project.yml").is_file()
    assert (settings.project_dir / "data" / "demo" / "sp500_prices.parquet").is_file()
    assert settings.db_path == here / "allocator.duckdb"
    assert settings.reports_dir == here / "reports"
    # dbt resolves ALLOCATOR_DUCKDB_PATH in the project copy: check_project
    # hands it the results directory's database
    monkeypatch.delenv("ALLOCATOR_DUCKDB_PATH", raising=False)
    workflow.check_project(settings)
    assert os.environ["ALLOCATOR_DUCKDB_PATH"] == str(here / "allocator.duckdb")

    elsewhere = workflow.resolve_settings(
        {"ALLOCATOR_HOME": "out", "ALLOCATOR_DUCKDB_PATH": "db/x.duckdb"},
        site,
        reports_dir="html",
        cwd=here,
        packaged_project=packaged,
    )
    assert elsewhere.project_dir == here / "out" / ".allocator" / "project"
    assert elsewhere.db_path == here / "out" / "db" / "x.duckdb"
    assert elsewhere.reports_dir == here / "out" / "html"
    # a named project (allocator init's) is used in place, results beside it
    named = workflow.resolve_settings(
        {}, site, project_dir=str(tmp_path / "mine"), cwd=here, packaged_project=packaged
    )
    assert (named.project_dir, named.db_path) == (
        tmp_path / "mine",
        tmp_path / "mine" / "allocator.duckdb",
    )


def test_the_copy_is_refreshed_only_when_the_package_changes(
    tmp_path: Path, packaged: Path
) -> None:
    copy = project_files.materialise(packaged, tmp_path / "r" / ".allocator" / "project")
    (copy / "target").mkdir()  # dbt's partial-parse cache lives here
    project_files.materialise(packaged, copy)
    assert (copy / "target").is_dir()
    seed = packaged / "seeds" / "strategy_profiles.csv"
    seed.write_text(seed.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    project_files.materialise(packaged, copy)
    assert not (copy / "target").exists()
    assert (copy / "seeds" / "strategy_profiles.csv").read_bytes() == seed.read_bytes()
    assert sorted(p.name for p in copy.parent.parent.iterdir()) == [".allocator"]


def test_init_writes_an_editable_project_and_never_overwrites(tmp_path: Path) -> None:
    written = project_files.init_project(tmp_path / "mine", PROJECT_DIR)
    assert tmp_path / "mine" / "seeds" / "strategy_profiles.csv" in written
    assert project_files.project_file_list(tmp_path / "mine") == project_files.project_file_list(
        PROJECT_DIR
    )
    with pytest.raises(AllocatorError, match="not an empty directory"):
        project_files.init_project(tmp_path / "mine", PROJECT_DIR)


# --------------------------------------------------------------------------
# the real thing: wheel, fresh venv, demo from an unrelated directory
# --------------------------------------------------------------------------


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (
        f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


def _clean_env() -> dict[str, str]:
    """This environment without the checkout's: no ALLOCATOR_* settings, no
    active venv, nothing on PYTHONPATH (pip's own configuration stays)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ALLOCATOR_")
        and key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.mark.skipif(
    os.environ.get(SKIP_VARIABLE, "").lower() not in ("", "0", "false", "no"),
    reason=f"{SKIP_VARIABLE} is set (make test always runs it)",
)
def test_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    started = time.perf_counter()
    env = _clean_env()
    source = tmp_path / "source"
    shutil.copytree(PROJECT_DIR, source, ignore=NOT_SOURCES)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    _run([*pip_wheel, str(source), "-w", str(tmp_path / "dist")], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("allocator-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    bin_dir = venv / "bin"
    # the dependencies come from the package index (pip's cache when warm)
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    allocator = str(bin_dir / "allocator")

    results = tmp_path / "somewhere" / "else"
    results.mkdir(parents=True)
    where = _run(
        [str(bin_dir / "python"), "-c", "import allocator; print(allocator.__file__)"],
        results,
        env,
    )
    site_package = Path(where.stdout.strip()).parent
    assert venv in site_package.parents, "the fresh venv imported the checkout's package"
    assert (site_package / "_project" / "dbt_project.yml").is_file()

    assert "demo" in _run([allocator, "--help"], results, env).stdout
    demo = _run([allocator, "demo", "--no-tests"], results, env)
    assert (results / "allocator.duckdb").is_file(), demo.stdout
    run_dir = results / "reports" / "runs" / workflow.DEMO_SCALED_RUN_ID
    assert (run_dir / "two_pass_comparison.md").is_file(), demo.stdout
    assert (results / "reports" / "runs" / workflow.DEMO_BASELINE_RUN_ID).is_dir()
    assert (results / ".allocator" / "project" / "target").is_dir()
    # dbt wrote nothing into site-packages
    assert not (site_package / "_project" / "target").exists()
    assert not (site_package / "_project" / "logs").exists()
    assert not (site_package / "_project" / "allocator.duckdb").exists()

    _run([allocator, "init", "mine"], results, env)
    mine = results / "mine"
    assert (mine / "dbt_project.yml").is_file()
    assert (mine / "seeds" / "strategy_profiles.csv").is_file()
    assert (mine / "data" / "demo" / "sp500_prices.parquet").is_file()
    # the same project the demo ran
    assert project_files.project_file_list(mine) == project_files.project_file_list(
        results / ".allocator" / "project"
    )
    print(f"fresh install + demo: {time.perf_counter() - started:.0f} s")
