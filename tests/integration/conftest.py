"""Integration fixtures: Allocator v1 runs of the demo data in one throwaway DuckDB.

dbt runs in-process through its programmatic runner (``dbtRunner``), on its own
database file, target and log directories, so the suite can run beside a
developer's dbt. Runs are built lazily and at most once per session: a test
asks for the run ids it needs and shares them with every other test.

dbtRunner runs in this process, so the environment variable naming the
database and the working directory (relative paths in vars are resolved from
the project directory) are set around each invocation and restored after.
dbt-duckdb keeps its database instance open in the process afterwards; DuckDB
then only accepts further connections with the same configuration, so tests
connect with :meth:`AllocatorProject.connect` (read-write, default settings),
which reads the published runs (schemas marts and artifacts) by default.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from allocator.dbt_invoke import reset_compiled_state
from tests.conftest import NO_TESTS, dbt_command, dbt_environment, parse_vars, result_message

PROJECT_DIR = Path(__file__).resolve().parents[2]

#: Every relation a run writes, i.e. tables with a run_id column, are found
#: from the catalog; these are the Allocator v1 artifacts in particular.
ALLOCATOR_TABLES: tuple[str, ...] = (
    "allocator_state_v1",
    "allocator_state_v1_meta",
    "allocator_regime_v1",
    "allocator_regime_v1_meta",
    "allocator_risk_v1",
    "allocator_risk_v1_meta",
    "allocator_risk_v1_applied",
    "allocator_risk_v1_applied_meta",
    "allocator_scalars_at_rebalances",
    "weights_scaled",
    "portfolio_returns_scaled",
)

#: A run is published only when the whole project was built; runs other
#: than the base run skip the tests (the base run's build runs them all):
#: tests.conftest.NO_TESTS.
#: Unqualified names resolve to the published runs, as for the CLI, then to
#: the last build's own tables (inputs and intermediates, which are not
#: published; every demo run reads the same prices).
SEARCH_PATH = "set search_path = 'marts,artifacts,build'"


@dataclass
class AllocatorProject:
    """One DuckDB file holding the session's runs, and how to build more."""

    work_dir: Path
    specs: Mapping[str, Callable[[AllocatorProject], dict[str, Any]]]
    built: set[str] = field(default_factory=set)
    #: parsed manifests by input files, reused by the named runs as the CLI
    #: does: a full parse per run (changed --vars) cost seconds each
    manifests: dict[str, Any] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.work_dir / "allocator.duckdb"

    def command(self, args: list[str], dbt_vars: Mapping[str, Any] | None) -> list[str]:
        return dbt_command(args, self.work_dir, dbt_vars, threads=1)

    def invoke(self, args: list[str], dbt_vars: Mapping[str, Any] | None = None) -> dbtRunnerResult:
        """Run one dbt command in-process on the session database (parsing afresh)."""
        with dbt_environment(self.db_path):
            return dbtRunner().invoke(self.command(args, dbt_vars))

    def invoke_parsed(self, args: list[str], dbt_vars: Mapping[str, Any]) -> dbtRunnerResult:
        """Run one dbt command on the manifest parsed for these vars' input files."""
        inputs = parse_vars(dbt_vars)
        key = json.dumps(inputs, sort_keys=True)
        if key not in self.manifests:
            parsed = self.invoke(["parse"], inputs)
            assert parsed.success, result_message(parsed)
            self.manifests[key] = parsed.result
        manifest = self.manifests[key]
        reset_compiled_state(manifest)
        with dbt_environment(self.db_path):
            return dbtRunner(manifest=manifest).invoke(self.command(args, dbt_vars))

    def run(self, run_id: str) -> str:
        """Build the named run (once per session) and return its run_id."""
        if run_id not in self.built:
            dbt_vars = {"run_id": run_id, **self.specs[run_id](self)}
            extra = () if run_id == "base" else NO_TESTS
            result = self.invoke_parsed(["build", *extra], dbt_vars)
            assert result.success, f"dbt build of {run_id} failed:\n{result_message(result)}"
            self.built.add(run_id)
        return run_id

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.db_path))
        con.execute(SEARCH_PATH)
        return con

    def query(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connect() as con:
            return con.execute(sql, parameters or []).fetchall()

    def frame(self, sql: str, parameters: list[Any] | None = None) -> Any:
        with self.connect() as con:
            return con.execute(sql, parameters or []).df()

    def export_csv(self, sql: str, name: str) -> Path:
        """Write a query result as CSV (floats round-trip exactly) into the work dir."""
        path = self.work_dir / name
        with self.connect() as con:
            cursor = con.execute(sql)
            header = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
        return path


def _base(_: AllocatorProject) -> dict[str, Any]:
    return {}


def _compute(_: AllocatorProject) -> dict[str, Any]:
    # the seeds' cadence, which a scalar file (pre_file) can also deliver
    return {"allocator_v1": {"enabled": True, "mode": "compute", "cadence": "rebalance_lagged"}}


def _seeds_calibration(_: AllocatorProject) -> dict[str, Any]:
    """The seeds' governor: calibration seeds_v1 with its own defaults
    (cadence rebalance_lagged, alpha 0.25, floor 0.25), applied in one pass."""
    return {"allocator_v1": {"enabled": True, "mode": "compute", "calibration": "seeds_v1"}}


def _scale_free_calibration(_: AllocatorProject) -> dict[str, Any]:
    """The default calibration until issue 21, selected by name (mode off)."""
    return {"allocator_v1": {"calibration": "scale_free_v1"}}


def _precomputed_run(project: AllocatorProject) -> dict[str, Any]:
    project.run("base")
    return {
        "allocator_v1": {
            "enabled": True,
            "mode": "precomputed",
            "precomputed_run_id": "base",
            "cadence": "rebalance_lagged",
        }
    }


def _precomputed_file(project: AllocatorProject) -> dict[str, Any]:
    project.run("base")
    path = project.work_dir / "base_applied_scalars.csv"
    arguments = json.dumps({"run_id": "base", "path": str(path)})
    result = project.invoke(["run-operation", "export_applied_scalars", "--args", arguments])
    assert result.success, result_message(result)
    return {
        "allocator_v1": {
            "enabled": True,
            "mode": "precomputed",
            "precomputed_run_id": None,
            "precomputed_scalar_filename": str(path),
            "cadence": "rebalance_lagged",
        }
    }


def _implied(_: AllocatorProject) -> dict[str, Any]:
    return {"correlation_exact_max_symbols": 2}


def _half_weights(project: AllocatorProject) -> dict[str, Any]:
    """The base run's own sleeve weights, halved, as a weights file: the same book at
    half risk, with the rebalances its warm-up before start holds (the same history)."""
    project.run("base")
    path = project.export_csv(
        "select rebalance_date as date, symbol, sleeve, weight * 0.5 as weight "
        "from strategy_sleeve_weights where run_id = 'base' union all "
        "select distinct held_rebalance_date, symbol, sleeve, held_weight * 0.5 "
        "from allocator_state_v1_warm_up_holdings where run_id = 'base' order by 1, 2, 3",
        "half_weights.csv",
    )
    return {"weights_path": str(path)}


def _returns_only(project: AllocatorProject) -> dict[str, Any]:
    """The base run's unscaled daily returns as a returns-only portfolio, allocator
    on, with the 59 sessions before start its state warms up on (the same history)."""
    project.run("base")
    path = project.export_csv(
        "select date, net_return as portfolio_return from allocator_state_v1_warm_up "
        "where run_id = 'base' union all "
        "select date, net_return from portfolio_returns_unscaled where run_id = 'base' "
        "order by date",
        "base_returns.csv",
    )
    return {
        "portfolio_returns_path": str(path),
        "allocator_v1": {"enabled": True, "mode": "compute"},
    }


def _returns_without_history(project: AllocatorProject) -> dict[str, Any]:
    """The same returns from start only: no history before the window to warm up on."""
    project.run("base")
    path = project.export_csv(
        "select date, net_return as portfolio_return "
        "from portfolio_returns_unscaled where run_id = 'base' order by date",
        "base_returns_from_start.csv",
    )
    return {
        "portfolio_returns_path": str(path),
        "allocator_v1": {"enabled": True, "mode": "compute"},
    }


def _trend_only(_: AllocatorProject) -> dict[str, Any]:
    return {"strategy_profile": "trend_only_v1", "start": "2015-01-02", "end": "2016-12-30"}


def _no_benchmark(_: AllocatorProject) -> dict[str, Any]:
    return {"benchmark_path": ""}


def _sleeves_flat(_: AllocatorProject) -> dict[str, Any]:
    """Sleeve-level scalars of 1 everywhere (sleeve calibration flat_v1), the
    default calibration's daily cadence: the per-sleeve pricing, no de-risking."""
    return {"allocator_v1": {"enabled": True, "mode": "compute"}, "sleeve_scalars": "flat_v1"}


def _sleeves_as_book(project: AllocatorProject) -> dict[str, Any]:
    """Every sleeve on the book's own targets (sleeve_scalars book), otherwise
    run pre: a scaled run of base, so the two-pass marts are built too."""
    return {**_precomputed_run(project), "sleeve_scalars": "book"}


RUN_SPECS: dict[str, Callable[[AllocatorProject], dict[str, Any]]] = {
    "base": _base,
    "cmp": _compute,
    "seeds": _seeds_calibration,
    "sfree": _scale_free_calibration,
    "pre": _precomputed_run,
    "pre_file": _precomputed_file,
    "implied": _implied,
    "half": _half_weights,
    "ret": _returns_only,
    "ret_bare": _returns_without_history,
    "trend": _trend_only,
    "nobench": _no_benchmark,
    "slv_flat": _sleeves_flat,
    "slv_book": _sleeves_as_book,
}


@pytest.fixture(scope="session")
def allocator_project(tmp_path_factory: pytest.TempPathFactory) -> AllocatorProject:
    """The session's Allocator v1 database; call ``.run(run_id)`` for the runs a test needs."""
    return AllocatorProject(tmp_path_factory.mktemp("allocator_v1"), RUN_SPECS)


@pytest.fixture(scope="session")
def base_run(allocator_project: AllocatorProject) -> str:
    """The demo run with default vars (mode off), built with every data test
    (dbt's unit tests run once per session, in the tiny book's build)."""
    return allocator_project.run("base")
