"""Deterministic synthetic market generator for scale benchmarks.

Real data caps how far the allocator can be stress-tested (the bundled demo has
~20 symbols); the scale benchmark needs 20..2000 symbols over up to 8000+ days
with *known* crisis periods, so that both speed and "does the allocator see the
crises" can be checked.

Model
-----
A market-wide regime ``s_t`` in {calm, crisis} follows a two-state Markov chain
that starts calm: calm -> crisis with probability 1/500 per day, crisis -> calm
with probability 1/60 per day.  Expected crisis length is therefore 60 business
days, expected calm spell 500 days, and about 10.7% of days are in crisis in the
long run (``p / (p + q)``).

Daily simple returns follow a one-factor model::

    f_t  = mu[s_t] + sigma_f[s_t] * z_t                   (market factor)
    r_it = beta_i * f_t + m_i * sigma_e[s_t] * e_it       (stock i)

with ``beta_i ~ U(0.5, 1.5)`` and an idiosyncratic volatility multiplier
``m_i ~ U(0.7, 1.3)``.  The per-regime volatilities below were calibrated
numerically over that beta/multiplier distribution so that the cross-sectional
mean annualised stock volatility is ~22% (calm) / ~55% (crisis) and the mean
pairwise correlation is ~0.2 (calm) / ~0.6 (crisis).  The factor drifts +10%
a year when calm and -30% a year in crisis.  Returns are clipped at -95% and
compounded from 100, so closes stay strictly positive.

Output uses the project-wide long format ``date, symbol, close`` sorted by date
then symbol, plus an optional equal-weight (daily rebalanced) benchmark named
``SYNTH_INDEX`` and a ``<stem>_regimes.csv`` sidecar with the true regime path.

Determinism: one ``numpy.random.default_rng(seed)`` stream is consumed in a fixed
order (regime uniforms, factor shocks, betas, multipliers, then the idiosyncratic
shocks symbol by symbol), so the same arguments give byte-identical files and the
result does not depend on how symbols are chunked in memory.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from allocator.run_config import sql_literal

TRADING_DAYS = 252
DEFAULT_START = "1990-01-02"
DEFAULT_SEED = 7
DEFAULT_STEM = "synthetic"
INDEX_SYMBOL = "SYNTH_INDEX"
START_PRICE = 100.0
MIN_RETURN = -0.95
MIN_SYMBOLS = 2
MIN_DAYS = 300
FORMATS = ("parquet", "csv")
REGIME_NAMES = ("calm", "crisis")

P_CALM_TO_CRISIS = 1.0 / 500.0
P_CRISIS_TO_CALM = 1.0 / 60.0
BETA_RANGE = (0.5, 1.5)
VOL_MULT_RANGE = (0.7, 1.3)

# Symbols simulated per block: bounds the temporary (n_days x block) matrices.
CHUNK_SYMBOLS = 256


@dataclass(frozen=True)
class RegimeParams:
    """Annualised factor drift/vol and idiosyncratic vol of one regime."""

    drift: float
    factor_vol: float
    idio_vol: float

    def daily(self) -> tuple[float, float, float]:
        """(drift, factor vol, idio vol) per business day."""
        root = math.sqrt(TRADING_DAYS)
        return self.drift / TRADING_DAYS, self.factor_vol / root, self.idio_vol / root


CALM = RegimeParams(drift=0.10, factor_vol=0.100, idio_vol=0.195)
CRISIS = RegimeParams(drift=-0.30, factor_vol=0.435, idio_vol=0.330)


@dataclass(frozen=True)
class SyntheticMarket:
    """A simulated market in wide form (cheap to hold; long form is 1 row per cell)."""

    dates: np.ndarray  # (T,) datetime64[D], business days
    symbols: tuple[str, ...]  # (N,) sorted, zero padded
    closes: np.ndarray  # (T, N) float64, row t = day t
    index_closes: np.ndarray  # (T,) equal-weight daily-rebalanced index
    crisis: np.ndarray  # (T,) bool, regime that generated day t's return
    betas: np.ndarray  # (N,)
    vol_mults: np.ndarray  # (N,)


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value: object, minimum: int) -> int:
    """Reject bools/floats/too-small values early with a message naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def validate_args(n_symbols: object, n_days: object, seed: object, start: object) -> None:
    """Fail fast on arguments that would produce a useless or invalid market."""
    _check_int("n_symbols", n_symbols, MIN_SYMBOLS)
    _check_int("n_days", n_days, MIN_DAYS)
    _check_int("seed", seed, 0)
    try:
        np.datetime64(str(start), "D")
    except ValueError as exc:
        raise ValueError(f"start must be an ISO date like 1990-01-02, got {start!r}") from exc


# --------------------------------------------------------------------------- building blocks


def business_days(start: str, n_days: int) -> np.ndarray:
    """``n_days`` Mon-Fri dates from ``start`` (rolled forward if it is a weekend)."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    return np.busday_offset(first, np.arange(n_days), roll="forward")


def symbol_names(n_symbols: int) -> tuple[str, ...]:
    """S1..Sn zero padded to a common width so lexical order equals numeric order."""
    width = len(str(n_symbols))
    return tuple(f"S{i:0{width}d}" for i in range(1, n_symbols + 1))


def regime_path(uniforms: np.ndarray) -> np.ndarray:
    """Two-state Markov chain (True = crisis) driven by pre-drawn uniforms; day 0 is calm.

    A plain loop: it runs once per day (not per symbol), so it is never the bottleneck.
    """
    crisis = np.zeros(uniforms.shape[0], dtype=bool)
    state = False
    for t in range(1, uniforms.shape[0]):
        switch = P_CRISIS_TO_CALM if state else P_CALM_TO_CRISIS
        if uniforms[t] < switch:
            state = not state
        crisis[t] = state
    return crisis


def regime_series(crisis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day (factor drift, factor vol, idio vol) selected by the regime path."""
    calm, bad = np.array(CALM.daily()), np.array(CRISIS.daily())
    params = np.where(crisis[:, None], bad[None, :], calm[None, :])
    return params[:, 0], params[:, 1], params[:, 2]


def block_returns(
    factor: np.ndarray,
    idio_vol: np.ndarray,
    betas: np.ndarray,
    vol_mults: np.ndarray,
    shocks: np.ndarray,
) -> np.ndarray:
    """(T, k) clipped simple returns for k symbols; ``shocks`` is (k, T) standard normal."""
    returns = shocks.T * idio_vol[:, None]
    returns *= vol_mults[None, :]
    returns += factor[:, None] * betas[None, :]
    np.maximum(returns, MIN_RETURN, out=returns)
    returns[0] = 0.0  # day 0 is the 100 starting price, not a return
    return returns


def compound(returns: np.ndarray) -> np.ndarray:
    """Prices from START_PRICE: close_t = close_{t-1} * (1 + r_t), in place on ``returns``."""
    returns += 1.0
    np.cumprod(returns, axis=0, out=returns)
    returns *= START_PRICE
    return returns


def equal_weight_index(closes: np.ndarray, block_days: int = 512) -> np.ndarray:
    """Daily-rebalanced equal-weight index of the closes, starting at START_PRICE.

    Computed from the finished close matrix (in day blocks to bound memory) rather
    than accumulated per symbol chunk, so float summation order -- and hence the
    bytes written -- never depends on the chunk size.
    """
    n_days = closes.shape[0]
    mean_returns = np.zeros(n_days, dtype=np.float64)
    for lo in range(1, n_days, block_days):
        hi = min(lo + block_days, n_days)
        mean_returns[lo:hi] = (closes[lo:hi] / closes[lo - 1 : hi - 1]).mean(axis=1) - 1.0
    return compound(mean_returns)


# --------------------------------------------------------------------------- simulation


def simulate_market(
    n_symbols: int,
    n_days: int,
    seed: int = DEFAULT_SEED,
    start: str = DEFAULT_START,
    *,
    chunk_symbols: int = CHUNK_SYMBOLS,
) -> SyntheticMarket:
    """Simulate the market in wide form, generating idiosyncratic shocks in symbol blocks.

    Shocks are drawn as (block, T) so symbol i always consumes the same slice of
    the random stream: ``chunk_symbols`` changes memory use, never the output.
    """
    validate_args(n_symbols, n_days, seed, start)
    _check_int("chunk_symbols", chunk_symbols, 1)
    rng = np.random.default_rng(seed)
    crisis = regime_path(rng.random(n_days))
    drift, factor_vol, idio_vol = regime_series(crisis)
    factor = drift + factor_vol * rng.standard_normal(n_days)
    betas = rng.uniform(*BETA_RANGE, size=n_symbols)
    vol_mults = rng.uniform(*VOL_MULT_RANGE, size=n_symbols)

    closes = np.empty((n_days, n_symbols), dtype=np.float64)
    for lo in range(0, n_symbols, chunk_symbols):
        hi = min(lo + chunk_symbols, n_symbols)
        shocks = rng.standard_normal((hi - lo, n_days))
        returns = block_returns(factor, idio_vol, betas[lo:hi], vol_mults[lo:hi], shocks)
        closes[:, lo:hi] = compound(returns)

    return SyntheticMarket(
        dates=business_days(start, n_days),
        symbols=symbol_names(n_symbols),
        closes=closes,
        index_closes=equal_weight_index(closes),
        crisis=crisis,
        betas=betas,
        vol_mults=vol_mults,
    )


# --------------------------------------------------------------------------- long frames


def prices_long(market: SyntheticMarket) -> pd.DataFrame:
    """Long ``date, symbol, close`` sorted by date then symbol.

    ``symbol`` is a Categorical over the sorted names: 10M+ rows of Python strings
    would cost far more memory and DuckDB scans a Categorical as a cheap ENUM.
    """
    n_days, n_symbols = market.closes.shape
    codes = np.tile(np.arange(n_symbols, dtype=np.int32), n_days)
    return pd.DataFrame(
        {
            "date": np.repeat(market.dates.astype("datetime64[s]"), n_symbols),
            "symbol": pd.Categorical.from_codes(codes, categories=list(market.symbols)),
            "close": market.closes.reshape(-1),
        },
        copy=False,
    )


def benchmark_long(market: SyntheticMarket) -> pd.DataFrame:
    """The equal-weight index in the same long format, symbol ``SYNTH_INDEX``."""
    n_days = market.dates.shape[0]
    return pd.DataFrame(
        {
            "date": market.dates.astype("datetime64[s]"),
            "symbol": pd.Categorical.from_codes(
                np.zeros(n_days, dtype=np.int32), categories=[INDEX_SYMBOL]
            ),
            "close": market.index_closes,
        }
    )


def regimes_frame(market: SyntheticMarket) -> pd.DataFrame:
    """True regime per date (``calm``/``crisis``) for checking what the allocator detects."""
    return pd.DataFrame(
        {
            "date": market.dates.astype("datetime64[s]"),
            "regime": pd.Categorical.from_codes(
                market.crisis.astype(np.int8), categories=list(REGIME_NAMES)
            ),
        }
    )


def generate_market(
    n_symbols: int, n_days: int, seed: int = DEFAULT_SEED, start: str = DEFAULT_START
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pure entry point: (long prices, regime path) with no IO."""
    market = simulate_market(n_symbols, n_days, seed, start)
    return prices_long(market), regimes_frame(market)


# --------------------------------------------------------------------------- IO


def write_long(frame: pd.DataFrame, path: Path) -> Path:
    """Write a long ``date, symbol, close`` frame as zstd Parquet, or CSV for ``*.csv``.

    No ORDER BY: the frame is already sorted and DuckDB preserves insertion order,
    which avoids a 10M-row sort.
    """
    options = "format csv, header" if path.suffix == ".csv" else "format parquet, compression zstd"
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        con.execute(
            f"""
            copy (
                select cast(date as date) as date,
                       cast(symbol as varchar) as symbol,
                       cast(close as double) as close
                from frame
            ) to {sql_literal(path)} ({options})
            """
        )
    finally:
        con.close()
    return path


def write_regimes(frame: pd.DataFrame, path: Path) -> Path:
    """Write the ``date, regime`` sidecar CSV."""
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        con.execute(
            f"""
            copy (
                select cast(date as date) as date, cast(regime as varchar) as regime
                from frame
            ) to {sql_literal(path)} (format csv, header)
            """
        )
    finally:
        con.close()
    return path


def write_market(
    out_dir: Path,
    n_symbols: int,
    n_days: int,
    seed: int = DEFAULT_SEED,
    fmt: str = "parquet",
    with_benchmark: bool = True,
    *,
    with_regimes: bool = True,
    start: str = DEFAULT_START,
    stem: str = DEFAULT_STEM,
) -> dict[str, Path]:
    """Simulate and write ``<stem>_prices.<fmt>``, ``<stem>_index.<fmt>``, ``<stem>_regimes.csv``.

    Returns the written paths keyed ``prices``, ``benchmark``, ``regimes``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    validate_args(n_symbols, n_days, seed, start)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    market = simulate_market(n_symbols, n_days, seed, start)
    paths = {"prices": write_long(prices_long(market), out_dir / f"{stem}_prices.{fmt}")}
    if with_benchmark:
        paths["benchmark"] = write_long(benchmark_long(market), out_dir / f"{stem}_index.{fmt}")
    if with_regimes:
        paths["regimes"] = write_regimes(regimes_frame(market), out_dir / f"{stem}_regimes.csv")
    return paths


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for ``python -m allocator.synthetic``."""
    parser = argparse.ArgumentParser(
        prog="python -m allocator.synthetic",
        description="Write a deterministic synthetic calm/crisis market in long format.",
    )
    parser.add_argument("--symbols", type=int, required=True, help=f">= {MIN_SYMBOLS}")
    parser.add_argument("--days", type=int, required=True, help=f"business days, >= {MIN_DAYS}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", default=DEFAULT_START, help="first date (ISO)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--format", choices=FORMATS, default="parquet", dest="fmt")
    parser.add_argument("--stem", default=DEFAULT_STEM, help="file name prefix")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the index file")
    parser.add_argument("--no-regimes", action="store_true", help="skip the regimes sidecar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: validate, write, print the written paths; exit code 2 on bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        paths = write_market(
            args.out,
            args.symbols,
            args.days,
            seed=args.seed,
            fmt=args.fmt,
            with_benchmark=not args.no_benchmark,
            with_regimes=not args.no_regimes,
            start=args.start,
            stem=args.stem,
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
