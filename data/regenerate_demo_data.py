"""Regenerate the bundled demo data from the skfolio package.

skfolio is *not* a runtime dependency: run this once in a throwaway virtual
environment when the bundled files need refreshing.

    python -m venv /tmp/skf && /tmp/skf/bin/pip install skfolio duckdb
    /tmp/skf/bin/python data/regenerate_demo_data.py

It writes the long format (`date, symbol, close`) that every input of the
project uses, as zstd-compressed Parquet.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from skfolio.datasets import load_sp500_dataset, load_sp500_index

HERE = Path(__file__).resolve().parent / "demo"


def to_long(wide):
    """Wide (date index x symbol columns) -> long (date, symbol, close)."""
    long = (
        wide.rename_axis("date")
        .reset_index()
        .melt(id_vars="date", var_name="symbol", value_name="close")
    )
    return long.dropna(subset=["close"]).sort_values(["date", "symbol"])


def write_parquet(frame, path: Path) -> None:
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(
        f"""
        copy (
            select cast(date as date) as date, symbol, cast(close as double) as close
            from frame order by date, symbol
        ) to '{path}' (format parquet, compression zstd)
        """
    )


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    write_parquet(to_long(load_sp500_dataset()), HERE / "sp500_prices.parquet")
    write_parquet(to_long(load_sp500_index()), HERE / "sp500_index.parquet")
    print(f"wrote {HERE}/sp500_prices.parquet and sp500_index.parquet")


if __name__ == "__main__":
    main()
