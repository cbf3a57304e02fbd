"""Untrusted input never runs as code, end to end (issue 18): plain dbt
builds on a copy of a database holding a stored run, each with values that
ran as code or reached the network before.

1. Jinja in every string var: dbt renders a string var as Jinja whenever
   project code calls var() on it; `{{ run_query('drop table marts.runs') }}`
   in run_id dropped the registry before the gate refused the value.
2. Braces in a source path: dbt-duckdb put the external location through
   str.format_map, so `{external_location[9]}` ended the quoted path and the
   rest ran as SQL (`delete from marts.runs`).
3. A URL path: DuckDB fetched httpfs from the network before the gate
   refused it; here a local listener must see no connection.
4. dbt compile of the analysis with a Jinja run id.
5. A tuning build with Jinja in its vars.
6. A close of 1e308 (passed validation, then infinite volatility).

Each case ends with every stored table hashed as before and the gate's (or
the reader's) one-line refusal in dbt's output; the payload's marker never
printed. The fast crossing of hostile values with every var and flag is
tests/python/test_untrusted_input.py.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.faults_support import (
    FIXTURE_INPUTS,
    DbtResult,
    copy_db,
    query,
    run_dbt,
    stored_state,
    tiny_vars,
)

WORKERS = int(os.environ.get("ALLOCATOR_FAULT_WORKERS", "2"))
#: Printed by dbt's log() if a payload ever runs.
MARKER = "PAYLOAD-RAN"
# The marker is built by the template itself, so it shows in the output only
# if the template ran: the refusal that echoes the value shows its parts.
JINJA = "{{ log('PAYLOAD' ~ '-RAN', info=true) }}{{ run_query('drop table marts.runs') }}"
FORMAT = "{external_location[9]}); delete from marts.runs; select 1 --"


@dataclass(frozen=True)
class Template:
    db: Path
    state: dict[str, str]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One stored baseline 'base' (the tiny book)."""
    db = tmp_path_factory.mktemp("untrusted_template") / "template.duckdb"
    built = run_dbt(["build"], db, tiny_vars("base"))
    assert built.returncode == 0, built.tail()
    assert query(db, "select run_id from marts.runs") == [("base",)]
    return Template(db, stored_state(db))


class Listener:
    """A local TCP port that counts the connections made to it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    served = Listener()
    yield served
    served.close()


@dataclass(frozen=True)
class Case:
    id: str
    dbt_vars: Callable[[Path, Listener], Mapping[str, Any]]
    expected: tuple[str, ...]
    args: tuple[str, ...] = ("build",)
    prepare: Callable[[Path], None] = field(default=lambda _directory: None)


def _every_var(_directory: Path, _listener: Listener) -> Mapping[str, Any]:
    path = JINJA + ".csv"
    return {
        "run_id": JINJA,
        "strategy_profile": JINJA,
        "start": JINJA,
        "end": JINJA,
        "prices_path": path,
        "benchmark_path": path,
        "weights_path": path,
        "portfolio_returns_path": path,
        "allocator_v1": {
            "enabled": True,
            "mode": "precomputed",
            "precomputed_run_id": JINJA,
            "precomputed_scalar_filename": path,
            "calibration": JINJA,
            "cadence": JINJA,
        },
        "reuse_baseline_layers": JINJA,
        "replace_run": JINJA,
        "publish_run": JINJA,
        "correlation_exact_max_symbols": JINJA,
        "allocator_regime_min_days": JINJA,
        "allocator_risk_ewma_alpha": JINJA,
        "allocator_risk_scalar_floor": JINJA,
        "allocator_risk_scalar_cap": JINJA,
    }


def _huge_close(directory: Path) -> None:
    lines = (FIXTURE_INPUTS / "tiny_prices.csv").read_text().splitlines()
    date, symbol, _ = lines[3].split(",")
    lines[3] = f"{date},{symbol},1e308"
    (directory / "huge_prices.csv").write_text("\n".join(lines) + "\n")


CASES = {
    case.id: case
    for case in [
        Case(
            # reproduction 1 of the issue, in every var at once
            "jinja-in-every-var",
            _every_var,
            ("Invalid Input Error: run ", "holds '{'"),
        ),
        Case(
            # reproduction 2: the weights model read its file beside the gate
            "format-braces-in-weights-path",
            lambda _d, _l: tiny_vars(
                "braces", weights_path=str(FIXTURE_INPUTS / "tiny_weights.csv") + FORMAT
            ),
            ("var weights_path: ", "holds '{'"),
        ),
        Case(
            "url-prices-path",
            lambda _d, served: tiny_vars(
                "url", prices_path=f"http://127.0.0.1:{served.port}/prices.csv"
            ),
            ("var prices_path: ", "names a URL or scheme (http:)"),
        ),
        Case(
            # the reader itself (no gate): DuckDB may not install or load httpfs
            "url-read-without-the-gate",
            lambda _d, _l: {},
            ("INVALID",),
            args=("run-operation", "check_input_file", "--args"),
        ),
        Case(
            "jinja-in-dbt-compile",
            lambda _d, _l: {"run_id": JINJA},
            (),
            args=("compile", "--select", "allocator_regime_calibration"),
        ),
        Case(
            "jinja-in-tuning-vars",
            lambda _d, _l: {
                "tuning_id": JINJA,
                "tuning_baseline_run_id": "base",
                "tuning_grid_path": "grids/" + JINJA + ".json",
                "tuning_objective": JINJA,
                "tuning_memory_limit": "1GB'; drop table marts.runs; --",
            },
            ("var tuning_", "holds '{'"),
            args=("build", "--select", "tag:tuning"),
        ),
        Case(
            "close-of-1e308",
            lambda d, _l: tiny_vars("huge", prices_path=str(d / "huge_prices.csv")),
            ("is beyond a billion per share",),
            prepare=_huge_close,
        ),
    ]
}


@dataclass(frozen=True)
class Outcome:
    result: DbtResult
    state: dict[str, str]
    connections: int


def _run(case: Case, template: Template, served: Listener, directory: Path) -> Outcome:
    directory.mkdir(parents=True, exist_ok=True)
    db = copy_db(template.db, directory)
    case.prepare(directory)
    args = list(case.args)
    if case.id == "url-read-without-the-gate":
        args.append("{path: 'http://127.0.0.1:" + str(served.port) + "/prices.csv'}")
    before = served.connections
    result = run_dbt(args, db, case.dbt_vars(directory, served) or None, directory)
    return Outcome(result, stored_state(db), served.connections - before)


@pytest.fixture(scope="module")
def outcomes(
    template: Template,
    listener: Listener,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Future[Outcome]]]:
    root = tmp_path_factory.mktemp("untrusted_cases")
    selected = [
        item.callspec.params["case_id"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_untrusted_values_never_run"
    ]
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    try:
        yield {
            case_id: pool.submit(_run, CASES[case_id], template, listener, root / case_id)
            for case_id in selected
        }
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case_id", list(CASES))
def test_untrusted_values_never_run(
    case_id: str, outcomes: dict[str, Future[Outcome]], template: Template
) -> None:
    outcome = outcomes[case_id].result()
    output = outcome.result.output
    assert MARKER not in output, output[-4000:]
    for text in CASES[case_id].expected:
        assert text in output, f"missing {text!r} in:\n{outcome.result.tail()}"
    if CASES[case_id].args[0] == "build":
        assert outcome.result.returncode not in (0, None), outcome.result.tail()
        assert "Published run" not in output and "Published tuning" not in output
    assert outcome.connections == 0, "a URL reached the network"
    assert outcome.state == template.state, outcome.result.tail()
