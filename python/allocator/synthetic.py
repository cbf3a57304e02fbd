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

Correlation knobs
-----------------
``calm_correlation`` / ``crisis_correlation`` (CLI ``--calm-correlation`` /
``--crisis-correlation``) set the target mean pairwise correlation of daily
returns within each regime.  A regime given a target is recalibrated on the
drawn betas and multipliers: with ``k = sigma_f / sigma_e`` stock i's factor
loading (its correlation with the factor) is ``l_i = b_i k / sqrt(b_i^2 k^2 + m_i^2)``
and two stocks correlate ``l_i * l_j``, so ``k`` is solved so that the mean of
``l_i * l_j`` over all pairs ``i != j`` equals the target; ``sigma_e`` then makes the
cross-sectional mean annualised stock volatility 22% (calm) / 55% (crisis).  The
drifts are unchanged.  Rules:

* neither given: the fixed parameters above, byte-identical to earlier versions;
* ``0 <= calm_correlation < 1`` and ``calm_correlation <= crisis_correlation < 1``
  (without a calm knob the crisis one must be >= the default calm 0.2);
* only ``calm_correlation`` given: the crisis target is
  ``max(0.6, (1 + calm_correlation) / 2)`` -- halfway from the calm correlation
  to 1, never below the default 0.6 (for calm <= 0.2 the default crisis
  regime is kept unchanged); e.g. calm 0.8 -> crisis 0.9;
* only ``crisis_correlation`` given: the calm regime keeps its fixed parameters.

The knobs only rescale volatilities: the regime path, betas, multipliers and
shocks are the same draws as without them.  The target is the population value
for the drawn symbols; realised correlations over a finite number of days scatter
around it (e.g. within ~0.01 for 30 symbols x 3000 days at a calm target of 0.8).

Output uses the project-wide long format ``date, symbol, close`` sorted by date
then symbol, plus an optional equal-weight (daily rebalanced) benchmark named
``SYNTH_INDEX`` and a ``<stem>_regimes.csv`` sidecar with the true regime path.

Determinism: one ``numpy.random.default_rng(seed)`` stream is consumed in a fixed
order (regime uniforms, factor shocks, betas, multipliers, then the idiosyncratic
shocks symbol by symbol), so the same arguments give byte-identical files and the
result does not depend on how symbols are chunked in memory.  The correlation
knobs draw nothing: they rescale vols solved deterministically from the betas.
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

CALM_VOL = 0.22  # target mean annualised stock vol of a recalibrated calm regime
CRISIS_VOL = 0.55  # ... and of a recalibrated crisis regime
DEFAULT_CALM_CORRELATION = 0.2  # nominal mean pairwise correlation of CALM
DEFAULT_CRISIS_CORRELATION = 0.6  # ... and of CRISIS

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
    calm_params: RegimeParams = CALM
    crisis_params: RegimeParams = CRISIS


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


def _check_correlation(name: str, value: object, lower: float, lower_text: str) -> float:
    """A real number in [lower, 1); the message names the argument and its CLI option."""
    option = "--" + name.replace("_", "-")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} ({option}) must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and lower <= number < 1.0):
        raise ValueError(f"{name} ({option}) must be >= {lower_text} and < 1, got {value!r}")
    return number


def correlation_targets(
    calm_correlation: object = None, crisis_correlation: object = None
) -> tuple[float | None, float | None]:
    """Validated (calm, crisis) correlation targets; ``None`` keeps that regime's fixed params.

    See "Correlation knobs" in the module docstring for the rules.
    """
    calm = None
    if calm_correlation is not None:
        calm = _check_correlation("calm_correlation", calm_correlation, 0.0, "0")
    if crisis_correlation is not None:
        floor = DEFAULT_CALM_CORRELATION if calm is None else calm
        text = (
            f"the default calm correlation {floor:g}"
            if calm is None
            else f"calm_correlation ({floor:g})"
        )
        return calm, _check_correlation("crisis_correlation", crisis_correlation, floor, text)
    if calm is None:
        return None, None
    derived = max(DEFAULT_CRISIS_CORRELATION, (1.0 + calm) / 2.0)
    return calm, (None if derived == DEFAULT_CRISIS_CORRELATION else derived)


def mean_pairwise_correlation(betas: np.ndarray, vol_mults: np.ndarray, ratio: float) -> float:
    """Mean over pairs i != j of the model correlation ``l_i * l_j`` at ``k = ratio``."""
    scaled = betas * ratio
    loadings = scaled / np.hypot(scaled, vol_mults)
    n = loadings.shape[0]
    return float((loadings.sum() ** 2 - (loadings**2).sum()) / (n * (n - 1)))


def calibrate_regime(
    drift: float,
    annual_vol: float,
    correlation: float,
    betas: np.ndarray,
    vol_mults: np.ndarray,
) -> RegimeParams:
    """Regime whose mean pairwise correlation over the given symbols is ``correlation``.

    The mean pairwise correlation rises monotonically with ``k = factor_vol /
    idio_vol`` (every loading does and all are >= 0), so ``k`` is found by bisection
    on ``u = k / (1 + k)`` in [0, 1); ``idio_vol`` then sets the mean stock vol
    ``mean(idio_vol * sqrt(b^2 k^2 + m^2))`` to ``annual_vol``.
    """
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if not lo < mid < hi:
            break
        if mean_pairwise_correlation(betas, vol_mults, mid / (1.0 - mid)) < correlation:
            lo = mid
        else:
            hi = mid
    ratio = lo / (1.0 - lo)
    idio = annual_vol / float(np.hypot(betas * ratio, vol_mults).mean())
    return RegimeParams(drift=drift, factor_vol=ratio * idio, idio_vol=idio)


def regime_params(
    betas: np.ndarray,
    vol_mults: np.ndarray,
    calm_correlation: object = None,
    crisis_correlation: object = None,
) -> tuple[RegimeParams, RegimeParams]:
    """(calm, crisis) parameters: the fixed CALM/CRISIS unless a correlation target applies."""
    calm_target, crisis_target = correlation_targets(calm_correlation, crisis_correlation)
    calm = CALM
    if calm_target is not None:
        calm = calibrate_regime(CALM.drift, CALM_VOL, calm_target, betas, vol_mults)
    crisis = CRISIS
    if crisis_target is not None:
        crisis = calibrate_regime(CRISIS.drift, CRISIS_VOL, crisis_target, betas, vol_mults)
    return calm, crisis


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


def regime_series(
    crisis: np.ndarray, calm_params: RegimeParams = CALM, crisis_params: RegimeParams = CRISIS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day (factor drift, factor vol, idio vol) selected by the regime path."""
    calm, bad = np.array(calm_params.daily()), np.array(crisis_params.daily())
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
    calm_correlation: float | None = None,
    crisis_correlation: float | None = None,
) -> SyntheticMarket:
    """Simulate the market in wide form, generating idiosyncratic shocks in symbol blocks.

    Shocks are drawn as (block, T) so symbol i always consumes the same slice of
    the random stream: ``chunk_symbols`` changes memory use, never the output.
    The correlation knobs are described in the module docstring.
    """
    validate_args(n_symbols, n_days, seed, start)
    _check_int("chunk_symbols", chunk_symbols, 1)
    correlation_targets(calm_correlation, crisis_correlation)  # fail before any work
    rng = np.random.default_rng(seed)
    crisis = regime_path(rng.random(n_days))
    factor_shocks = rng.standard_normal(n_days)
    betas = rng.uniform(*BETA_RANGE, size=n_symbols)
    vol_mults = rng.uniform(*VOL_MULT_RANGE, size=n_symbols)
    calm_params, crisis_params = regime_params(
        betas, vol_mults, calm_correlation, crisis_correlation
    )
    drift, factor_vol, idio_vol = regime_series(crisis, calm_params, crisis_params)
    factor = drift + factor_vol * factor_shocks

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
        calm_params=calm_params,
        crisis_params=crisis_params,
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
    n_symbols: int,
    n_days: int,
    seed: int = DEFAULT_SEED,
    start: str = DEFAULT_START,
    *,
    calm_correlation: float | None = None,
    crisis_correlation: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pure entry point: (long prices, regime path) with no IO."""
    market = simulate_market(
        n_symbols,
        n_days,
        seed,
        start,
        calm_correlation=calm_correlation,
        crisis_correlation=crisis_correlation,
    )
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
    calm_correlation: float | None = None,
    crisis_correlation: float | None = None,
) -> dict[str, Path]:
    """Simulate and write ``<stem>_prices.<fmt>``, ``<stem>_index.<fmt>``, ``<stem>_regimes.csv``.

    Returns the written paths keyed ``prices``, ``benchmark``, ``regimes``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    validate_args(n_symbols, n_days, seed, start)
    correlation_targets(calm_correlation, crisis_correlation)  # fail before creating out_dir
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    market = simulate_market(
        n_symbols,
        n_days,
        seed,
        start,
        calm_correlation=calm_correlation,
        crisis_correlation=crisis_correlation,
    )
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
    parser.add_argument(
        "--calm-correlation",
        type=float,
        metavar="RHO",
        help="target mean pairwise correlation of daily returns in calm periods, "
        "0 <= RHO < 1 (default: the fixed calm regime, ~0.2)",
    )
    parser.add_argument(
        "--crisis-correlation",
        type=float,
        metavar="RHO",
        help="target for crisis periods, >= the calm correlation and < 1 (default: "
        "max(0.6, (1 + calm) / 2) with --calm-correlation, else the fixed crisis regime)",
    )
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
            calm_correlation=args.calm_correlation,
            crisis_correlation=args.crisis_correlation,
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
