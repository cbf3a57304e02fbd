"""The cross-universe protocol's universes: real books from data that ships
with the project (data/demo, data/universes; provenance in data/PROVENANCE.md)
and synthetic ones from ``python -m allocator.synthetic``.

Each universe is an ``allocator run`` input: a strategy profile, a window and
input files written into a work folder. Books are fixed before any governor
is measured on them (no universe was picked for how the governor does on it):

* ``demo``: the bundled demo, core_v1 on 20 US large caps, 2005-2022;
* ``sp500``: the S&P 500 index as a returns-only book, 1990-2022;
* ``factor_etfs``: five iShares factor ETFs held equal weight, reset monthly,
  2014-2022 (calm correlation about 0.8);
* ``multi_asset``: the S&P 500 index and WTI crude oil, inverse-vol weights
  (trailing 60 sessions) reset monthly, 1990-2019;
* ``two_stock``: MSFT and XOM, 50/50 reset monthly, 1990-2022;
* ``single_ge``, ``single_aapl``: one stock held throughout, 1990-2022 (a
  long decline without recovery, and a -80% crash followed by a long rise);
* ``synthetic_s<seed>``, ``synthetic_ew_s<seed>``: the generator's market at
  calm correlation 0.8, traded by core_v1 and held equal weight (monthly).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
UNIVERSES = ROOT / "data" / "universes"
SYNTHETIC_SEEDS = (0, 1)
SYNTHETIC = {"symbols": 20, "days": 8000, "calm_correlation": 0.8}


@dataclass
class Universe:
    """One book the governor is measured on."""

    name: str
    family: str
    description: str
    cli_args: list[str]
    files: dict[str, Path] = field(default_factory=dict)


def _copy(sql: str, path: Path) -> Path:
    duckdb.sql(f"copy ({sql}) to '{path}' (header)")
    return path


def _monthly_weights(prices: Path, path: Path, symbols: Sequence[str] | None = None) -> Path:
    """Equal weight, long only, set at the first session of every month."""
    where = ""
    if symbols:
        where = "where symbol in (" + ", ".join(f"'{s}'" for s in symbols) + ")"
    return _copy(
        f"""
        with held as (select * from '{prices}' {where}),
        firsts as (select min(date) as date from held group by date_trunc('month', date))
        select firsts.date, held.symbol, 1.0 / count(*) over (partition by firsts.date) as weight
        from firsts inner join held using (date)
        order by 1, 2
        """,
        path,
    )


def _inverse_vol_weights(prices: Path, path: Path) -> Path:
    """Inverse trailing-60-session vol weights at each month's first session
    (decided at that close from closes up to it), summing to 1."""
    return _copy(
        f"""
        with returns as (
            select date, symbol,
                close / lag(close) over (partition by symbol order by date) - 1 as r
            from '{prices}'
        ),
        vols as (
            select date, symbol,
                stddev_samp(r) over (partition by symbol order by date
                    rows between 59 preceding and current row) as vol,
                count(r) over (partition by symbol order by date
                    rows between 59 preceding and current row) as n
            from returns
        ),
        firsts as (select min(date) as date from vols where n = 60
                   group by date_trunc('month', date))
        select firsts.date, vols.symbol,
            (1 / vols.vol) / sum(1 / vols.vol) over (partition by firsts.date) as weight
        from firsts inner join vols using (date)
        order by 1, 2
        """,
        path,
    )


def _single(prices: Path, symbol: str, path: Path) -> Path:
    return _copy(
        f"select min(date) as date, '{symbol}' as symbol, 1.0 as weight from '{prices}' "
        f"where symbol = '{symbol}'",
        path,
    )


def _window(prices: Path) -> tuple[str, str]:
    """From the second session (the book decides its opening weights at the
    first close) to the last."""
    ((second, last),) = duckdb.sql(
        f"select min(date) filter (where date > (select min(date) from '{prices}')), max(date) "
        f"from '{prices}'"
    ).fetchall()
    return str(second), str(last)


def _synthetic(work: Path, seed: int) -> dict[str, Path]:
    out = work / f"synthetic_{seed}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "allocator.synthetic",
            "--symbols",
            str(SYNTHETIC["symbols"]),
            "--days",
            str(SYNTHETIC["days"]),
            "--seed",
            str(seed),
            "--calm-correlation",
            str(SYNTHETIC["calm_correlation"]),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        "prices": out / "synthetic_prices.parquet",
        "benchmark": out / "synthetic_index.parquet",
        "regimes": out / "synthetic_regimes.csv",
    }


def build_universes(work: Path, names: Sequence[str] | None = None) -> list[Universe]:
    """Write every universe's input files into ``work`` and return them (in
    protocol order), or only those named."""
    work.mkdir(parents=True, exist_ok=True)
    wanted = set(names) if names else None
    out: list[Universe] = []

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    stocks = DEMO / "sp500_prices.parquet"
    index = DEMO / "sp500_index.parquet"
    if want("demo"):
        out.append(
            Universe(
                "demo",
                "strategy",
                "core_v1 on 20 US large caps (the demo)",
                ["--start", "2005-01-03", "--end", "2022-12-28"],
            )
        )
    if want("sp500"):
        returns = _copy(
            f"select date, close / lag(close) over (order by date) - 1 as portfolio_return "
            f"from '{index}' qualify portfolio_return is not null order by date",
            work / "sp500_returns.csv",
        )
        out.append(
            Universe(
                "sp500",
                "index",
                "S&P 500 index, returns only",
                ["--start", "1990-01-03", "--end", "2022-12-28"]
                + ["--portfolio-returns", str(returns), "--benchmark", "none"],
            )
        )
    if want("factor_etfs"):
        prices = UNIVERSES / "factor_etfs.parquet"
        weights = _monthly_weights(prices, work / "factor_etfs_weights.csv")
        start, end = _window(prices)
        out.append(
            Universe(
                "factor_etfs",
                "etf",
                "5 factor ETFs, equal weight monthly",
                ["--start", start, "--end", end, "--prices", str(prices)]
                + ["--weights", str(weights), "--benchmark", "none"],
            )
        )
    if want("multi_asset"):
        prices = _copy(
            f"""
            with closes as (
                select date, symbol, close from '{index}'
                union all
                select date, symbol, close from '{UNIVERSES / "wti.parquet"}'
            )
            select * from closes
            where date in (select date from closes group by date having count(*) = 2)
            order by date, symbol
            """,
            work / "multi_asset_prices.csv",
        )
        weights = _inverse_vol_weights(prices, work / "multi_asset_weights.csv")
        start, end = _window(prices)
        out.append(
            Universe(
                "multi_asset",
                "multi_asset",
                "S&P 500 index + WTI crude, inverse-vol monthly",
                ["--start", start, "--end", end, "--prices", str(prices)]
                + ["--weights", str(weights), "--benchmark", "none"],
            )
        )
    if want("two_stock"):
        weights = _monthly_weights(stocks, work / "two_stock_weights.csv", ["MSFT", "XOM"])
        out.append(
            Universe(
                "two_stock",
                "stock",
                "MSFT + XOM, 50/50 monthly",
                ["--start", "1990-01-03", "--end", "2022-12-28"]
                + ["--weights", str(weights), "--benchmark", str(index)],
            )
        )
    for symbol in ("GE", "AAPL"):
        name = f"single_{symbol.lower()}"
        if want(name):
            weights = _single(stocks, symbol, work / f"{name}_weights.csv")
            out.append(
                Universe(
                    name,
                    "stock",
                    f"{symbol} alone, held throughout",
                    ["--start", "1990-01-03", "--end", "2022-12-28"]
                    + ["--weights", str(weights), "--benchmark", str(index)],
                )
            )
    for seed in SYNTHETIC_SEEDS:
        names_here = (f"synthetic_s{seed}", f"synthetic_ew_s{seed}")
        if not any(want(n) for n in names_here):
            continue
        files = _synthetic(work, seed)
        first, last = _window(files["prices"])
        # two years warm the strategy up (it needs 312 sessions of history)
        start = str(int(first[:4]) + 2) + first[4:]
        common = ["--start", start, "--end", last, "--prices", str(files["prices"])]
        common += ["--benchmark", str(files["benchmark"])]
        if want(names_here[0]):
            out.append(
                Universe(names_here[0], "synthetic", "core_v1, calm corr 0.8", common, files)
            )
        if want(names_here[1]):
            weights = _monthly_weights(files["prices"], work / f"synthetic_ew_{seed}_weights.csv")
            out.append(
                Universe(
                    names_here[1],
                    "synthetic",
                    "equal weight, calm corr 0.8",
                    [*common, "--weights", str(weights)],
                    files,
                )
            )
    return out
