"""Live runs (Stage 9): a run updated day by day from its stored state equals
one whole build of the same window, and an update is safe.

One small synthetic book (12 symbols, 900 business days; the lookback of an
update, 498 sessions, is shorter than its history) in a throwaway database.
dbt runs in-process on one parsed manifest; the prices file keeps its path
and grows by a day before each update, as a desk's file would. The tests
share one live run and run in file order, with few whole builds (each dbt
build costs seconds, and the suite must stay fast):

1. 30 single-day updates across a quarter end (a rebalance), then a 5-day
   batch: every published table equals a whole build of the same window (a
   live run too, so the stored closes compare) to 1e-12, and is
   bit-identical outside sums over symbols; updates only append, so the
   single days' rows are compared too. Re-running a day changes nothing;
2. a file that skips a session, goes backwards or revises a stored close is
   refused naming the date and symbol, and nothing changes;
3. restate_from recomputes from the revised date; then an update killed with
   SIGKILL in the middle of its build leaves the run as it was, and the next
   update equals a whole build of the revised file;
4. a live run younger than its 60-session windows continues its warm-up;
5. a live run on the implied correlation (the method above
   ``correlation_exact_max_symbols`` held symbols, whose 60-return
   volatilities an update reads from its lookback) equals a whole build.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from allocator.dbt_invoke import release_database, reset_compiled_state
from allocator.synthetic import benchmark_long, prices_long, simulate_market
from tests.conftest import dbt_command

from .conftest import PROJECT_DIR, dbt_environment, result_message

SYMBOLS, DAYS, SEED = 12, 900, 11
START, FIRST_END = 400, 840  # session indexes; 846 is a quarter end
SINGLE_DAYS, BATCH = 30, 5
# what a run's identity or build makes differ between two runs of one window
IDENTITY = {
    "run_id",
    "scaled_run_id",
    "config_json",
    "config_hash",
    "dbt_invocation_id",
    "created_at",
    "updated_at",
    "data_tests_passed",
    "replaces_run_id",
    "is_live_update",
    "lookback_start",
    "appended_from",
    "sessions_appended",
}
# the sleeve scalars' rows (Stage 6, docs/sleeve_scalars.md), which a live
# run refuses: empty for both runs
UNUSED_OPTION_TABLES = {
    "artifacts.allocator_risk_v1_sleeve_scalars",
    "artifacts.allocator_sleeve_scalars_daily",
}
RUN = {"allocator_v1": {"enabled": True, "mode": "compute"}, "strategy_profile": "core_v1"}
BUILD = ["build", "--exclude", "resource_type:test", "resource_type:unit_test", "tag:two_pass"]
# an update leaves out the seeds, as `allocator update` does: the start loaded them
UPDATE = [*BUILD, "resource_type:seed"]


class LiveBook:
    """The synthetic market, its growing files and the dbt invocations."""

    def __init__(self, work_dir: Path) -> None:
        market = simulate_market(SYMBOLS, DAYS, SEED)
        self.prices = prices_long(market)
        self.benchmark = benchmark_long(market)
        self.dates = sorted(self.prices["date"].unique())
        self.work_dir = work_dir
        self.prices_path = work_dir / "prices.csv"
        self.benchmark_path = work_dir / "index.csv"
        self.db_path = work_dir / "live.duckdb"
        self.manifest: Any = None

    def day(self, index: int) -> str:
        return pd.Timestamp(self.dates[index]).date().isoformat()

    def write_files(self, last: int, first: int = 0, prices: pd.DataFrame | None = None) -> None:
        """The files as a desk has them on day ``last``: sessions first..last."""
        frame = self.prices if prices is None else prices
        low, high = self.dates[first], self.dates[last]
        for data, path in ((frame, self.prices_path), (self.benchmark, self.benchmark_path)):
            rows = data[(data["date"] >= low) & (data["date"] <= high)].copy()
            rows["date"] = pd.to_datetime(rows["date"]).dt.date.astype(str)
            rows.to_csv(path, index=False, float_format="%.17g")

    def command(self, args: list[str], dbt_vars: Mapping[str, Any]) -> list[str]:
        files = {"prices_path": str(self.prices_path), "benchmark_path": str(self.benchmark_path)}
        return dbt_command(args, self.work_dir, {**files, **dbt_vars}, threads=2)

    def invoke(self, args: list[str], dbt_vars: Mapping[str, Any]) -> dbtRunnerResult:
        with dbt_environment(self.db_path):
            if self.manifest is None:
                parsed = dbtRunner().invoke(self.command(["parse"], {}))
                assert parsed.success, result_message(parsed)
                self.manifest = parsed.result
            reset_compiled_state(self.manifest)
            return dbtRunner(manifest=self.manifest).invoke(self.command(args, dbt_vars))

    def build(self, dbt_vars: Mapping[str, Any]) -> dbtRunnerResult:
        result = self.invoke(UPDATE if dbt_vars.get("live_update") else BUILD, dbt_vars)
        assert result.success, result_message(result)
        return result

    def start(self, run_id: str, last: int) -> None:
        """A live run of the window START..last, built whole."""
        self.write_files(last)
        window = {"start": self.day(START), "end": self.day(last)}
        self.build({"run_id": run_id, "live": True, **window, **RUN})

    def update(self, run_id: str, last: int, **extra: Any) -> None:
        self.write_files(last, first=extra.pop("first", 0))
        self.build({"run_id": run_id, "live_update": True, **extra})

    def refused(self, run_id: str, **extra: Any) -> str:
        result = self.invoke(UPDATE, {"run_id": run_id, "live_update": True, **extra})
        assert not result.success
        return result_message(result)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db_path))


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    rows = con.execute(
        "select table_schema, table_name, list(column_name order by ordinal_position) "
        "from information_schema.columns where table_schema in ('artifacts', 'marts') "
        "group by all order by 1, 2"
    ).fetchall()
    return [(schema, table, columns) for schema, table, columns in rows]


def run_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every published row of a run, identity columns left out, in a fixed order."""
    out = {}
    for schema, table, columns in published_tables(con):
        key = "run_id" if "run_id" in columns else "scaled_run_id"
        kept = ", ".join(f'"{c}"' for c in columns if c not in IDENTITY)
        out[f"{schema}.{table}"] = con.execute(
            f"select {kept} from {schema}.{table} where {key} = ? order by all", [run_id]
        ).fetchall()
    return out


def unequal_floats(u: Any, v: Any, where: str) -> int:
    """How many floats of two equal values are not bit-identical: floats
    within 1e-12, JSON text (the metas) compared as its values, anything
    else exactly."""
    if u == v or (u is None and v is None):
        return 0
    if isinstance(u, float) and isinstance(v, float):
        assert abs(u - v) <= 1e-12 or (math.isnan(u) and math.isnan(v)), where
        return 1
    if isinstance(u, str) and isinstance(v, str) and u[:1] in "{[" and v[:1] in "{[":
        return unequal_floats(json.loads(u), json.loads(v), where)
    if isinstance(u, dict) and isinstance(v, dict) and u.keys() == v.keys():
        return sum(unequal_floats(u[k], v[k], where) for k in u)
    if isinstance(u, list) and isinstance(v, list) and len(u) == len(v):
        return sum(unequal_floats(x, y, where) for x, y in zip(u, v, strict=True))
    pytest.fail(f"{where}: {u!r} vs {v!r}")


def compare_runs(book: LiveBook, live: str, whole: str) -> dict[str, int]:
    """Assert the two runs' published rows are equal (floats to 1e-12); return,
    per table, how many float cells are not bit-identical."""
    with book.connect() as con:
        a, b = run_rows(con, live), run_rows(con, whole)
    not_bitwise: dict[str, int] = {}
    for table, rows in b.items():
        if table in UNUSED_OPTION_TABLES:
            assert not rows and not a[table], f"{table}: rows of an option these runs lack"
            continue
        assert rows, f"{table}: the whole build {whole} has no rows"
        assert len(a[table]) == len(rows), f"{table}: {len(a[table])} rows vs {len(rows)}"
        for left, right in zip(a[table], rows, strict=True):
            for u, v in zip(left, right, strict=True):
                count = unequal_floats(u, v, f"{table}: {left} vs {right}")
                if count:
                    not_bitwise[table] = not_bitwise.get(table, 0) + count
    return not_bitwise


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBook]:
    book = LiveBook(tmp_path_factory.mktemp("live"))
    book.start("prod", FIRST_END)
    yield book


# the float cells that are sums over symbols may differ in the last bit (the
# update sums the same terms over a smaller input), and so may a meta's
# aggregates over the run's rows (stored in another order); nothing else may
SUMS_OVER_SYMBOLS = {
    "artifacts.allocator_state_v1",
    "artifacts.allocator_state_v1_warm_up",
    "artifacts.allocator_state_v1_warm_up_holdings",
    "artifacts.portfolio_returns_unscaled",
    "artifacts.portfolio_returns_scaled",
    "artifacts.sleeve_returns",
    "artifacts.strategy_sleeve_weights",
    "artifacts.trend_unit_returns",
    "artifacts.weights_raw",
    "artifacts.weights_scaled",
    "marts.portfolio_returns",
    "marts.run_metrics",
    "marts.run_risk_metrics",
    "marts.next_session_targets",
}


def test_single_days_then_a_batch_equal_a_whole_build(book: LiveBook) -> None:
    for last in range(FIRST_END + 1, FIRST_END + SINGLE_DAYS + 1):
        book.update("prod", last)
    with book.connect() as con:
        rebalances = con.execute(
            "select count(*) from artifacts.allocator_risk_v1_applied "
            "where run_id = 'prod' and rebalance_date > ?",
            [book.day(FIRST_END)],
        ).fetchone()[0]
        assert rebalances >= 1  # the quarter end among the single days
    last = FIRST_END + SINGLE_DAYS + BATCH
    book.update("prod", last)
    with book.connect() as con:
        appended = con.execute(
            "select count(*) from artifacts.allocator_regime_v1 where run_id = 'prod' "
            "and date > ? and regime is not null",
            [book.day(FIRST_END)],
        ).fetchone()[0]
        assert appended == SINGLE_DAYS + BATCH
    book.start("whole", last)
    not_bitwise = compare_runs(book, "prod", "whole")
    assert {t for t in not_bitwise if not t.endswith("_meta")} <= SUMS_OVER_SYMBOLS, not_bitwise

    # the same day again: nothing changes
    with book.connect() as con:
        before = run_rows(con, "prod")
    book.update("prod", last)
    with book.connect() as con:
        assert run_rows(con, "prod") == before


def test_a_file_that_skips_goes_back_or_revises_is_refused(book: LiveBook) -> None:
    last = FIRST_END + SINGLE_DAYS + BATCH
    with book.connect() as con:
        before = run_rows(con, "prod")

    book.write_files(last + 1, first=last + 1)
    message = book.refused("prod")
    assert f"starts on {book.day(last + 1)}" in message
    assert f"last session {book.day(last)}" in message

    missing = book.prices[book.prices["date"] != book.dates[last - 2]]
    book.write_files(last + 1, first=last - 5, prices=missing)
    message = book.refused("prod")
    assert f"skips session {book.day(last - 2)}" in message and "symbol S" in message

    book.write_files(last - 1)
    message = book.refused("prod")
    assert f"ends on {book.day(last - 1)}" in message and "symbol S" in message

    book.write_files(last + 1, first=last - 10, prices=revised_prices(book, last - 3))
    message = book.refused("prod")
    symbol = first_symbol(book)
    assert f"revises symbol {symbol} on {book.day(last - 3)}" in message
    assert f"restate_from {book.day(last - 3)}" in message
    with book.connect() as con:
        assert run_rows(con, "prod") == before


def first_symbol(book: LiveBook) -> str:
    return sorted(book.prices["symbol"].astype(str).unique())[0]


def revised_prices(book: LiveBook, at: int) -> pd.DataFrame:
    """The book's prices with the first symbol's close on session ``at`` revised up 1%."""
    revised = book.prices.copy()
    cell = (revised["date"] == book.dates[at]) & (revised["symbol"] == first_symbol(book))
    revised.loc[cell, "close"] *= 1.01
    return revised


def test_a_restatement_then_a_killed_update_then_the_next_equal_a_whole_build(
    book: LiveBook,
) -> None:
    last = FIRST_END + SINGLE_DAYS + BATCH
    # the revision, restated from its date; the desk's file is the revised one from now on
    book.prices = revised_prices(book, last - 3)
    book.write_files(last + 1)
    book.build({"run_id": "prod", "live_update": True, "restate_from": book.day(last - 3)})

    with book.connect() as con:
        before = run_rows(con, "prod")
    book.write_files(last + 2)
    log = book.work_dir / "logs" / "dbt.log"
    seen = log.read_text() if log.exists() else ""
    command = book.command(UPDATE, {"run_id": "prod", "live_update": True})
    env = {**os.environ, "ALLOCATOR_DUCKDB_PATH": str(book.db_path), "DO_NOT_TRACK": "1"}
    release_database()  # the file's lock goes to the process killed
    process = subprocess.Popen(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *command],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # kill it once the update is computing its layers, before it publishes
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text() if log.exists() else ""
        if "allocator_state_v1" in text[len(seen) :]:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the update finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with book.connect() as con:
        assert run_rows(con, "prod") == before

    book.update("prod", last + 2)
    book.start("whole_revised", last + 2)
    compare_runs(book, "prod", "whole_revised")


def test_a_live_run_younger_than_its_windows_continues_its_warm_up_exactly(
    book: LiveBook,
) -> None:
    """The state warms up on the book's last 59 sessions before start, so a live
    run has a regime from its first session; while its 60-session windows still
    reach back into that warm-up, each update reads it (the stored warm-up book,
    the holdings recomputed from the lookback) and equals a whole build too."""
    book.start("young", START + 20)
    with book.connect() as con:
        (first_regime,) = con.execute(
            "select min(date) from artifacts.allocator_regime_v1 where run_id = 'young'"
        ).fetchone()
        (warm_up_sessions,) = con.execute(
            "select warm_up_sessions from artifacts.allocator_state_v1_meta where run_id = 'young'"
        ).fetchone()
    assert first_regime.isoformat() == book.day(START)
    assert warm_up_sessions == 59
    for last in range(START + 21, START + 24):
        book.update("young", last)
    book.update("young", START + 28)
    book.start("young_whole", START + 28)
    not_bitwise = compare_runs(book, "young", "young_whole")
    assert {t for t in not_bitwise if not t.endswith("_meta")} <= SUMS_OVER_SYMBOLS, not_bitwise


def test_a_live_run_on_the_implied_correlation_equals_a_whole_build(book: LiveBook) -> None:
    """The implied correlation (book vol against the symbols' 60-return vols)
    reads the lookback differently from the exact pairwise mean: single days
    and a batch of it equal a whole build too."""
    implied = {"correlation_exact_max_symbols": 2}
    book.write_files(FIRST_END)
    window = {"start": book.day(START), "end": book.day(FIRST_END)}
    book.build({"run_id": "implied", "live": True, **window, **RUN, **implied})
    with book.connect() as con:
        (method,) = con.execute(
            "select distinct correlation_method from artifacts.allocator_state_v1 "
            "where run_id = 'implied' and correlation_method is not null"
        ).fetchone()
    assert method == "implied"
    for last in range(FIRST_END + 1, FIRST_END + 3):
        book.update("implied", last)
    book.update("implied", FIRST_END + 6)
    book.write_files(FIRST_END + 6)
    window = {"start": book.day(START), "end": book.day(FIRST_END + 6)}
    book.build({"run_id": "implied_whole", "live": True, **window, **RUN, **implied})
    not_bitwise = compare_runs(book, "implied", "implied_whole")
    assert {t for t in not_bitwise if not t.endswith("_meta")} <= SUMS_OVER_SYMBOLS, not_bitwise
