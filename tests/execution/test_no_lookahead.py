"""No lookahead: changing returns after date d changes no weight decided on
or before d."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import PROJECT_DIR, InProcessDbt

DEMO_PRICES = PROJECT_DIR / "data" / "demo" / "sp500_prices.parquet"
CUTOFF = "2001-06-15"
SYMBOLS = "('AAPL', 'JPM', 'KO', 'XOM', 'MSFT', 'PFE', 'WMT', 'GE')"


CADENCES = ("rebalance_lagged", "rebalance", "daily")
#: What the tests read and everything upstream of it, without tests (the
#: suite's base run tests the models): a dry run (publish_run: false) leaves
#: the tables in schema `build`, where they are read, one run at a time
SELECTED = (
    "--select",
    "+strategy_sleeve_weights",
    "+allocator_state_v1",
    "+allocator_scalars_daily",
    "+portfolio_returns_scaled",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
)


@dataclass(frozen=True)
class Books:
    """What one build series on one prices file decided."""

    weights: dict[tuple[str, str, str], float]
    state: dict[str, dict[str, object]]
    scaled: dict[str, list[tuple]]


def state_rows(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    """Every column of allocator_state_v1 per date, as the build left it."""
    frame = con.execute(
        "select * exclude (run_id) from build.allocator_state_v1 order by date"
    ).df()
    frame["date"] = frame["date"].astype(str)
    return {row["date"]: row for row in frame.to_dict("records")}


def build_books(work: Path, prices: Path) -> Books:
    """Each cadence's scaled book (compute mode, the run's own scalars): per
    session the scalar on the book, the close it was decided at and the net
    return, from a build on ``prices``; and the strategy's weights and the
    allocator's state, which no allocator setting changes (tag unscaled),
    from the first of those builds."""
    dbt = InProcessDbt(work / "book.duckdb")
    weights: dict[tuple[str, str, str], float] = {}
    state: dict[str, dict[str, object]] = {}
    scaled = {}
    for cadence in CADENCES:
        run_id = f"c_{cadence}"
        dbt.build(
            SELECTED,
            {
                "run_id": run_id,
                "prices_path": str(prices),
                "benchmark_path": "",
                "start": "2000-01-03",
                "end": "2002-12-31",
                "strategy_profile": "core_weekly_v1",
                "allocator_v1": {"enabled": True, "mode": "compute", "cadence": cadence},
                "publish_run": False,
            },
        )
        with duckdb.connect(str(dbt.db_path), read_only=True) as con:
            if not weights:
                rows = con.execute(
                    "select cast(rebalance_date as varchar), sleeve, symbol, weight "
                    "from build.strategy_sleeve_weights"
                ).fetchall()
                weights = {(date, sleeve, symbol): w for date, sleeve, symbol, w in rows}
                state = state_rows(con)
            scaled[cadence] = con.execute(
                "select cast(s.date as varchar), cast(s.scalar_decided_at as varchar), "
                "s.risk_scalar_used, r.net_return "
                "from build.allocator_scalars_daily as s "
                "inner join build.portfolio_returns_scaled as r using (run_id, date) "
                "where s.run_id = ? order by s.date",
                [run_id],
            ).fetchall()
    return Books(weights, state, scaled)


@pytest.fixture(scope="module")
def books_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Books, Books]:
    work = tmp_path_factory.mktemp("lookahead")
    original = work / "original.parquet"
    perturbed = work / "perturbed.parquet"
    base = f"select * from '{DEMO_PRICES}' where symbol in {SYMBOLS} and date <= '2002-12-31'"
    duckdb.sql(f"copy ({base}) to '{original}' (format parquet)")
    # every close after the cutoff moves by a different, deterministic factor,
    # so every return after the cutoff changes; and over its first 20 sessions
    # half the symbols (alternate in name order) rise 10% a session while the
    # others fall 10%, so a signal that peeked even a few sessions ahead would
    # change sign or rank (the level noise alone moves a trailing return by a
    # few percent, which a sign or a rank need not notice)
    duckdb.sql(
        f"""copy (
            select date, symbol,
                   case when date > '{CUTOFF}'
                        then close * (1 + 0.05 * sin(hash(symbol, date) % 1000))
                             * exp(0.1 * side * least(sessions_after, 20))
                        else close end as close
            from (
                select *,
                       2 * (dense_rank() over (order by symbol) % 2) - 1 as side,
                       count(*) filter (where date > '{CUTOFF}')
                           over (partition by symbol order by date) as sessions_after,
                from ({base})
            )
        ) to '{perturbed}' (format parquet)"""
    )
    return build_books(work / "a", original), build_books(work / "b", perturbed)


@pytest.fixture(scope="module")
def weights_pair(books_pair: tuple[Books, Books]):
    return tuple(books.weights for books in books_pair)


@pytest.fixture(scope="module")
def state_pair(books_pair: tuple[Books, Books]):
    return tuple(books.state for books in books_pair)


@pytest.fixture(scope="module")
def scaled_pair(books_pair: tuple[Books, Books]):
    return tuple(books.scaled for books in books_pair)


def test_weights_on_or_before_cutoff_are_unchanged(weights_pair) -> None:
    original, perturbed = weights_pair
    before = {key for key in original if key[0] <= CUTOFF}
    assert len(before) > 100
    assert {key for key in perturbed if key[0] <= CUTOFF} == before
    # equal up to float summation order (DuckDB aggregates in parallel);
    # lookahead would move weights by orders of magnitude more
    for key in before:
        assert perturbed[key] == pytest.approx(original[key], rel=1e-12, abs=1e-15), key


def test_the_perturbation_does_change_later_weights(weights_pair) -> None:
    """Guards the test above against a perturbation that changes nothing."""
    original, perturbed = weights_pair
    after = [key for key in original if key[0] > CUTOFF and key in perturbed]
    assert any(abs(original[key] - perturbed[key]) > 1e-9 for key in after)


def test_state_features_on_or_before_cutoff_are_unchanged(state_pair) -> None:
    """Every state column, the expanding ones (corr_excess) included, uses
    only observations up to its own date."""
    original, perturbed = state_pair
    before = sorted(day for day in original if day <= CUTOFF)
    assert [day for day in sorted(perturbed) if day <= CUTOFF] == before
    columns = [c for c in original[before[0]] if c != "date"]
    assert "corr_excess" in columns
    for day in before:
        for column in columns:
            a, b = original[day][column], perturbed[day][column]
            if isinstance(a, str | bool):
                assert a == b, (day, column)
            elif pd.isna(a):
                assert pd.isna(b), (day, column)
            else:
                # equal up to float summation order, as the weights above
                assert b == pytest.approx(a, rel=1e-12, abs=1e-15), (day, column)
    # corr_excess has a long-run level (250 ready observations) before the cutoff
    known = [day for day in before if not pd.isna(original[day]["corr_excess"])]
    assert len(known) > 20
    # and the perturbation reaches it after the cutoff
    after = [day for day in original if day > CUTOFF and day in perturbed]
    assert any(
        abs(original[day]["corr_excess"] - perturbed[day]["corr_excess"]) > 1e-9
        for day in after
        if not pd.isna(original[day]["corr_excess"])
    )


@pytest.mark.parametrize("cadence", CADENCES)
def test_every_cadence_is_causal(scaled_pair, cadence: str) -> None:
    """Perturbing the data after a date changes no scalar and no return of
    the scaled book on or before it, whatever the cadence, and every scalar
    was decided at a close before the session it earns on."""
    original, perturbed = (books[cadence] for books in scaled_pair)
    before = [row for row in original if row[0] <= CUTOFF]
    assert len(before) > 300
    assert [row for row in perturbed if row[0] <= CUTOFF] == before
    assert all(decided is None or decided < date for date, decided, _, _ in original)
    # the scalar is not constant: the test sees an allocator at work
    assert len({round(row[2], 6) for row in before}) > 5
    # the perturbation reaches the scaled book after the date (here the
    # regime stays in STRESS through the 2001-02 drawdown, so the scalars may not move)
    after = [(a, b) for a, b in zip(original, perturbed, strict=True) if a[0] > CUTOFF]
    assert any(a[3] != b[3] for a, b in after), "the perturbation changed no later return"
