"""Regenerate the cross-universe protocol's real data from two PyPI wheels.

Neither package is a dependency of the project: the data files are read
straight out of the wheels (no install), so the result does not depend on
the packages' import-time code.

    pip download --no-deps skfolio==1.12.2 arch==8.0.0 -d /tmp/wheels
    .venv/bin/python data/regenerate_universe_data.py /tmp/wheels

Writes, in the project's long input format (``date, symbol, close``, sorted
by date and symbol) as zstd-compressed Parquet, into ``data/universes/``:

* ``factor_etfs.parquet``: five iShares factor ETFs (MTUM, QUAL, SIZE, USMV,
  VLUE), daily adjusted closes 2014-01-02 .. 2022-12-28, from skfolio's
  ``datasets/data/factors_dataset.csv.gz`` (BSD-3-Clause);
* ``wti.parquet``: West Texas Intermediate crude oil spot price (FRED series
  DCOILWTICO, U.S. Energy Information Administration, public domain), daily
  1986-01-02 .. 2019-01-03, from arch's ``data/wti/wti.csv.gz`` (arch:
  University of Illinois/NCSA licence); FRED's missing days (".") are dropped.

See data/PROVENANCE.md.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

HERE = Path(__file__).resolve().parent / "universes"
MEMBERS = {
    "skfolio": "skfolio/datasets/data/factors_dataset.csv.gz",
    "arch": "arch/data/wti/wti.csv.gz",
}


def _member(wheels: Path, package: str) -> pd.DataFrame:
    (wheel,) = sorted(wheels.glob(f"{package}-*.whl"))[-1:]
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(MEMBERS[package]))
    return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")


def _write(long: pd.DataFrame, path: Path) -> None:
    con = duckdb.connect()
    con.register("frame", long)
    con.execute(
        f"""
        copy (
            select cast(date as date) as date, symbol, cast(close as double) as close
            from frame order by date, symbol
        ) to '{path}' (format parquet, compression zstd)
        """
    )


def main(argv: list[str]) -> None:
    wheels = Path(argv[0] if argv else ".")
    HERE.mkdir(parents=True, exist_ok=True)
    factors = _member(wheels, "skfolio")
    factors["date"] = pd.to_datetime(factors["Date"])
    long = factors.drop(columns="Date").melt(id_vars="date", var_name="symbol", value_name="close")
    _write(long.dropna(), HERE / "factor_etfs.parquet")
    wti = _member(wheels, "arch")
    wti = wti[pd.to_numeric(wti["DCOILWTICO"], errors="coerce").notna()]
    _write(
        pd.DataFrame(
            {
                "date": pd.to_datetime(wti["Date"], format="%m/%d/%Y"),
                "symbol": "WTI",
                "close": pd.to_numeric(wti["DCOILWTICO"]),
            }
        ),
        HERE / "wti.parquet",
    )
    print(f"wrote {HERE}/factor_etfs.parquet and wti.parquet")


if __name__ == "__main__":
    main(sys.argv[1:])
