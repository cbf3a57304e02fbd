"""The execution simulator against a hand computation, and run_id keying."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import NO_TESTS, InProcessDbt, tiny_vars

COST = 5 / 10_000  # core_v1 charges 5 bps on traded notional


def hand_computed_returns() -> list[tuple[str, float]]:
    """Weights decided at a close earn from the next session; costs are
    charged on the first session the new weights earn."""
    a = {"01-05": 101, "01-06": 102, "01-07": 100, "01-08": 103, "01-11": 104}
    b = {"01-05": 49, "01-06": 50, "01-07": 51, "01-08": 50, "01-11": 52}
    # 2021-01-06: held 01-05 weights (0.6, 0.4), opened from cash: turnover 1.0
    day1 = 0.6 * (a["01-06"] / a["01-05"] - 1) + 0.4 * (b["01-06"] / b["01-05"] - 1) - 1.0 * COST
    # 2021-01-07: still the 01-05 weights, no trade
    day2 = 0.6 * (a["01-07"] / a["01-06"] - 1) + 0.4 * (b["01-07"] / b["01-06"] - 1)
    # 2021-01-08: 01-07 weights (-0.5, 1.0); turnover |-0.5-0.6| + |1.0-0.4| = 1.7
    day3 = -0.5 * (a["01-08"] / a["01-07"] - 1) + 1.0 * (b["01-08"] / b["01-07"] - 1) - 1.7 * COST
    day4 = -0.5 * (a["01-11"] / a["01-08"] - 1) + 1.0 * (b["01-11"] / b["01-08"] - 1)
    return [("2021-01-06", day1), ("2021-01-07", day2), ("2021-01-08", day3), ("2021-01-11", day4)]


@pytest.fixture(scope="module")
def tiny_db(tiny_book: InProcessDbt, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 'a' twice and run 'b' once into one database.

    The first build of 'a' (the session's tiny book) ran the data and unit
    tests; the rebuild and 'b' are the same book on the same inputs, so
    their tests would repeat the same queries on the same rows."""
    dbt = tiny_book.copy(tmp_path_factory.mktemp("tiny"))
    for run_id in ("a", "b"):
        dbt.build(NO_TESTS, tiny_vars(run_id))
    return dbt.db_path


def test_portfolio_returns_equal_hand_computation(tiny_db: Path) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        rows = con.execute(
            "select cast(date as varchar), net_return from artifacts.portfolio_returns_unscaled "
            "where run_id = 'a' order by date"
        ).fetchall()
    expected = hand_computed_returns()
    assert [date for date, _ in rows] == [date for date, _ in expected]
    for (_, got), (_, want) in zip(rows, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-15)


def test_costs_are_charged_on_turnover(tiny_db: Path) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        rows = con.execute(
            "select cast(date as varchar), turnover, transaction_cost "
            "from artifacts.portfolio_returns_unscaled "
            "where run_id = 'a' and turnover > 0 order by date"
        ).fetchall()
    assert rows == [
        ("2021-01-06", pytest.approx(1.0), pytest.approx(1.0 * COST)),
        ("2021-01-08", pytest.approx(1.7), pytest.approx(1.7 * COST)),
    ]


def test_rebuilding_a_run_keeps_one_copy_and_runs_coexist(tiny_db: Path) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        for table, per_run in [
            ("portfolio_returns_unscaled", 4),
            ("weights_raw", 4),
            ("sleeve_returns", 4),
        ]:
            counts = dict(
                con.execute(
                    f"select run_id, count(*) from artifacts.{table} group by run_id"
                ).fetchall()
            )
            assert counts == {"a": per_run, "b": per_run}, table
