"""Where should the exposure pricing live? Times the SQL macro and the numpy
form on the demo's books (docs/rules.md quotes the figures).

Reads a database the demo was built into (``allocator demo``) and prices, in
a fresh in-memory DuckDB and in numpy:

* one book: the demo's scaled book (what a run prices once, in its build),
  in numpy alone and with the frames moved out of DuckDB and back (what a
  dbt Python model pricing it would do, dbt's own cost per node aside);
* a bisection: the 57 pricings the vol-target control's search makes;
* a sweep: 1,296 books at once (the default tuning grid's size).

Usage: .venv/bin/python benchmarks/pricing/measure.py DEMO.duckdb [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd

from allocator.pricing import book_from_frames, price_exposures
from allocator.sql_macros import macro_library

PRICING_SQL = """
with {{ allocator.price_exposure('exposures', 'unscaled', 'weights', 'run_config', ['book']) }}
select book, sum(net_return) as total from priced_exposure group by book
"""


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with duckdb.connect(args.database, read_only=True) as con:
        unscaled = con.execute(
            "select date, held_rebalance_date, gross_return, turnover "
            "from artifacts.portfolio_returns_unscaled where run_id = 'demo_scaled' order by date"
        ).df()
        scalars = con.execute(
            "select date, held_rebalance_date, risk_scalar_used "
            "from artifacts.allocator_scalars_daily where run_id = 'demo_scaled' order by date"
        ).df()
        weights = con.execute(
            "select rebalance_date, symbol, weight from artifacts.weights_raw "
            "where run_id = 'demo_scaled'"
        ).df()
        cost = float(
            con.execute(
                "select json_extract(config_json, '$.profile.transaction_cost_bps') "
                "from marts.runs where run_id = 'demo_scaled'"
            ).fetchone()[0]
        )
    book = book_from_frames(unscaled, weights, cost)
    rng = np.random.default_rng(0)
    governor = scalars["risk_scalar_used"].to_numpy(dtype=float)
    sql = macro_library().render(PRICING_SQL)
    memory = duckdb.connect()
    memory.register("unscaled", unscaled)
    memory.register("weights", weights)
    memory.register("run_config", pd.DataFrame({"transaction_cost_bps": [cost]}))

    def exposures_frame(paths: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "book": np.repeat(np.arange(paths.shape[1]), len(scalars)),
                "date": np.tile(scalars["date"].to_numpy(), paths.shape[1]),
                "held_rebalance_date": np.tile(
                    scalars["held_rebalance_date"].to_numpy(), paths.shape[1]
                ),
                "exposure": paths.T.ravel(),
            }
        )

    def sql_price(paths: np.ndarray) -> None:
        memory.register("exposures", exposures_frame(paths))
        memory.execute(sql).fetchall()

    def python_round_trip() -> None:
        """One book priced as a dbt Python model would: frames out of DuckDB,
        numpy, the priced book back in as a table."""
        frames = {
            name: memory.execute(f"select * from {name}").df()
            for name in ("unscaled", "weights", "run_config")
        }
        priced = book_from_frames(frames["unscaled"], frames["weights"], cost)
        net = price_exposures(priced, governor[:, None]).net_return[:, 0]
        result = pd.DataFrame({"date": frames["unscaled"]["date"], "net_return": net})
        memory.register("priced_result", result)
        memory.execute("create or replace temp table priced as select * from priced_result")

    one = governor[:, None]
    many = np.clip(governor[:, None] * rng.uniform(0.6, 1.2, (1, 1296)), 0.25, 1.0)
    rows = [
        (
            "one book (a run's scaled book)",
            lambda: sql_price(one),
            lambda: price_exposures(book, one),
        ),
        ("one book, numpy with DuckDB round trip", lambda: sql_price(one), python_round_trip),
        (
            "bisection: 57 pricings of one book",
            lambda: [sql_price(one) for _ in range(57)],
            lambda: [price_exposures(book, one) for _ in range(57)],
        ),
        (
            "sweep: 1,296 books at once",
            lambda: sql_price(many),
            lambda: price_exposures(book, many),
        ),
    ]
    symbols = weights["symbol"].nunique()
    print(f"{len(unscaled):,} sessions, {symbols} symbols; median of {args.repeat}")
    print(f"{'case':40} {'SQL macro (s)':>14} {'numpy (s)':>10} {'SQL/numpy':>10}")
    for label, in_sql, in_numpy in rows:
        sql_s = median_seconds(in_sql, args.repeat)
        numpy_s = median_seconds(in_numpy, args.repeat)
        print(f"{label:40} {sql_s:14.4f} {numpy_s:10.4f} {sql_s / numpy_s:10.1f}")


if __name__ == "__main__":
    main()
