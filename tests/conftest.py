"""Shared test helpers: run dbt against a throwaway DuckDB file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")

# dbt unit tests are off in a user's build (dbt_project.yml) and in the
# suite's builds but one: they check code on fixed fixtures, not a run's data,
# so the session's tiny book (fixture ``tiny_book``) runs every one of them
# once (test_every_dbt_unit_test_passes_once_per_session) instead of every
# dbt call paying for them again (seconds per build).
UNIT_TESTS_VARIABLE = "ALLOCATOR_UNIT_TESTS"
os.environ[UNIT_TESTS_VARIABLE] = "false"


def run_dbt(
    args: Sequence[str],
    db_path: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command in a subprocess on its own database and target dir.

    A subprocess keeps dbt-duckdb's connection state out of the test process,
    and the per-call target/log paths let tests run beside a developer's dbt.
    """
    command = [str(DBT), *dbt_command(args, work_dir or db_path.parent, dbt_vars)]
    env = {
        **os.environ,
        "ALLOCATOR_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


@contextlib.contextmanager
def dbt_environment(db_path: Path, unit_tests: bool = False) -> Iterator[None]:
    """Point the profile at ``db_path``, enable dbt's unit tests or not (read
    when dbt parses) and run from the project directory, then restore."""
    names = ("ALLOCATOR_DUCKDB_PATH", "DO_NOT_TRACK", UNIT_TESTS_VARIABLE)
    saved = {name: os.environ.get(name) for name in names}
    cwd = Path.cwd()
    os.environ["ALLOCATOR_DUCKDB_PATH"] = str(db_path)
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ[UNIT_TESTS_VARIABLE] = str(unit_tests).lower()
    os.chdir(PROJECT_DIR)
    try:
        yield
    finally:
        os.chdir(cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def result_message(result: Any) -> str:
    """Every error message of a dbtRunner invocation, for assertions and failure output."""
    parts: list[str] = []
    if result.exception is not None:
        parts.append(str(result.exception))
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status.lower() in {"error", "fail"} and node_result.message:
            parts.append(f"{node_result.node.name}: {node_result.message}")
    return "\n".join(parts)


def parse_vars(dbt_vars: Mapping[str, Any] | None) -> dict[str, Any]:
    """The vars dbt reads while it parses: the input-file locations (the
    sources' external_location), as the CLI parses with. The run's own vars
    are read when models run (test_parsing_does_not_depend_on_the_run_vars)."""
    return {k: v for k, v in (dbt_vars or {}).items() if k.endswith("_path")}


def dbt_command(
    args: Sequence[str],
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> list[str]:
    """A dbt command on this project whose target and logs stay in ``work_dir``
    (one per test database, so builds never share dbt's files)."""
    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    return command


class InProcessDbt:
    """dbt in this process on one database file, with its own target and log
    directories, parsing once per set of input files and reusing that manifest
    as the CLI does: a subprocess per build pays dbt's import (about 1.5 s) and
    a full parse (changed --vars disable partial parsing) every time.

    dbt-duckdb keeps the database open in the process after a command; it is
    closed after each invocation, so tests and the CLI can open the file
    read-only between builds.

    ``unit_tests``: parse with dbt's unit tests enabled (off in the suite but
    for the tiny book's build). A copy keeps the setting and the manifest, so
    its builds exclude ``resource_type:unit_test`` where they build models
    that have some.
    """

    def __init__(
        self,
        db_path: Path,
        work_dir: Path | None = None,
        manifests: dict[str, Any] | None = None,
        unit_tests: bool = False,
    ) -> None:
        self.db_path = db_path
        self.work_dir = work_dir or db_path.parent
        self.manifests: dict[str, Any] = {} if manifests is None else manifests
        self.unit_tests = unit_tests

    def copy(self, folder: Path) -> InProcessDbt:
        """The same parsed project on a copy of the database in ``folder``.

        The copy keeps the file name: dbt-duckdb names the database (the
        catalog of every relation in the manifest) after it."""
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.db_path, folder / self.db_path.name)
        return InProcessDbt(folder / self.db_path.name, folder, self.manifests, self.unit_tests)

    def command(self, args: Sequence[str], dbt_vars: Mapping[str, Any] | None) -> list[str]:
        return dbt_command(args, self.work_dir, dbt_vars)

    def manifest(self, dbt_vars: Mapping[str, Any] | None) -> Any:
        """The project parsed with these vars' input files (once per set)."""
        from dbt.cli.main import dbtRunner

        inputs = parse_vars(dbt_vars)
        key = json.dumps([inputs, self.unit_tests], sort_keys=True)
        if key not in self.manifests:
            with dbt_environment(self.db_path, self.unit_tests):
                parsed = dbtRunner().invoke(self.command(["parse"], inputs))
            assert parsed.success, result_message(parsed)
            self.manifests[key] = parsed.result
        return self.manifests[key]

    def invoke(self, args: Sequence[str], dbt_vars: Mapping[str, Any] | None = None) -> Any:
        """Run one dbt command (build, run-operation, ...) on the parsed project."""
        from dbt.cli.main import dbtRunner

        from allocator.dbt_invoke import release_database, reset_compiled_state

        manifest = self.manifest(dbt_vars)
        reset_compiled_state(manifest)
        try:
            with dbt_environment(self.db_path, self.unit_tests):
                return dbtRunner(manifest=manifest).invoke(self.command(args, dbt_vars))
        finally:
            release_database()

    def build(self, args: Sequence[str], dbt_vars: Mapping[str, Any]) -> Any:
        """``dbt build`` with extra ``args`` that must succeed."""
        result = self.invoke(["build", *args], dbt_vars)
        assert result.success, result_message(result)
        return result


FIXTURE_INPUTS = PROJECT_DIR / "tests" / "fixtures" / "inputs"
#: A build without dbt's data and unit tests (a run is still published).
NO_TESTS = ("--exclude", "resource_type:test", "resource_type:unit_test")


def tiny_vars(run_id: str, **overrides: Any) -> dict[str, Any]:
    """dbt vars of the tiny hand-checkable book: two symbols, own weights,
    2021-01-06 to 2021-01-11; keyword arguments replace any of them."""
    return {
        "run_id": run_id,
        "prices_path": str(FIXTURE_INPUTS / "tiny_prices.csv"),
        "benchmark_path": "",
        "weights_path": str(FIXTURE_INPUTS / "tiny_weights.csv"),
        "start": "2021-01-06",
        "end": "2021-01-11",
        **overrides,
    }


class TinyBook(InProcessDbt):
    """The session's tiny book and the results of its build."""

    results: Sequence[Any] = ()


@pytest.fixture(scope="session")
def tiny_book(tmp_path_factory: pytest.TempPathFactory) -> TinyBook:
    """Run 'a' of the tiny book, built with every data test and every dbt
    unit test (the suite's only build that runs those) and published, once
    per session: tests that start from it take a :meth:`InProcessDbt.copy`
    rather than building and testing the same run on the same inputs again."""
    dbt = TinyBook(tmp_path_factory.mktemp("tiny_book") / "tiny.duckdb", unit_tests=True)
    dbt.results = dbt.build((), tiny_vars("a")).result.results
    return dbt


@pytest.fixture
def dbt_db(tmp_path: Path) -> Path:
    """A fresh database path for one test."""
    return tmp_path / "test.duckdb"


#: The session fixtures that build a database, shared across modules. Under
#: pytest-xdist (make test runs two workers, --dist loadgroup) each worker
#: that runs a test asking for one builds its own, so the modules sharing one
#: are kept on one worker.
SHARED_BUILDS = ("allocator_project", "base_run", "tiny_book")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put every test module in one xdist group (its module fixtures are built
    once), and the modules that share a session build in the same group."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    modules: dict[str, set[str]] = {}
    for item in items:
        used = {name for name in SHARED_BUILDS if name in getattr(item, "fixturenames", ())}
        modules.setdefault(item.nodeid.split("::")[0], set()).update(used)
    group = {module: module for module in modules}
    owner: dict[str, str] = {}
    for module in sorted(modules):
        for build in sorted(modules[module]):
            if build in owner:
                # join this module's group to the group that owns the build
                old, new = group[module], group[owner[build]]
                for name, value in group.items():
                    if value == old:
                        group[name] = new
            else:
                owner[build] = group[module]
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group[item.nodeid.split("::")[0]]))
