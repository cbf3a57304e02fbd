"""Building blocks of the governor study (issue 12): data, features, regimes, overlays.

Everything here is plain pandas/numpy over the project's own regime state
machine (``allocator.regime.classify_regimes``) and EWMA
(``allocator.risk.smooth_risk_scalar``), which are imported, not rewritten.
Each block is checked against the stored demo run in ``study.py`` before it
is used (features, regimes, scalars and the seeds' scaled book are
reproduced to 1e-10).

Timing convention (the project's simulator): weights decided at the close of
date d earn from the next session; a session's cost is charged on the first
session the new weights earn. A scalar "decided at close t" is the risk scalar
of date t, computed from the unscaled book's returns up to and including t.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from allocator.regime import LEVELS, RegimeRule, classify_regimes  # noqa: E402
from allocator.risk import smooth_risk_scalar  # noqa: E402

TRADING_DAYS = 252
WARM_UP = 60
SHORT, LONG, SLOPE = 20, 60, 10
DEMO_DB = Path("/work/research/demo_before.duckdb")
SEED_RULES = ROOT / "seeds" / "allocator_regime_rules.csv"
SEED_SCALARS = ROOT / "seeds" / "allocator_regime_scalars.csv"
PROFILES = ROOT / "seeds" / "strategy_profiles.csv"
SP500_INDEX = ROOT / "data" / "demo" / "sp500_index.parquet"
SP500_PRICES = ROOT / "data" / "demo" / "sp500_prices.parquet"


# --------------------------------------------------------------------------- metrics


def metrics(returns: pd.Series) -> dict[str, float]:
    """The six run_metrics (empyrical conventions) of a daily return series."""
    r = returns.astype(float)
    n = len(r)
    wealth = (1.0 + r).cumprod()
    final = float(wealth.iloc[-1])
    years = n / TRADING_DAYS
    vol = float(r.std(ddof=1) * math.sqrt(TRADING_DAYS))
    mean = float(r.mean() * TRADING_DAYS)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth.to_numpy()]))[1:]
    maxdd = float((wealth.to_numpy() / peak - 1.0).min())
    idx = pd.DatetimeIndex(r.index)
    month = (1.0 + r).groupby(idx.to_period("M")).prod() - 1.0
    quarter = (1.0 + r).groupby(idx.to_period("Q")).prod() - 1.0
    return {
        "cagr": final ** (1.0 / years) - 1.0,
        "ann_vol": vol,
        "sharpe": mean / vol if vol > 0 else float("nan"),
        "maxdd": maxdd,
        "worst_month": float(month.min()),
        "worst_quarter": float(quarter.min()),
    }


def ann_vol(returns: np.ndarray) -> float:
    return float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS))


# --------------------------------------------------------------------------- state features


def rolling_std(x: pd.Series, window: int) -> pd.Series:
    return x.rolling(window, min_periods=window).std(ddof=1) * math.sqrt(TRADING_DAYS)


def mean_pairwise_corr(asset_returns: pd.DataFrame, window: int) -> pd.Series:
    """Mean over symbol pairs of the trailing ``window``-observation Pearson correlation.

    Same definition as int_allocator_correlation (exact method): a pair enters a
    date only with a full window; constant windows (undefined correlation) are
    left out. Vectorised through rolling sums of products.
    """
    x = asset_returns.to_numpy(dtype=float)
    t_len, n = x.shape
    out = np.full(t_len, np.nan)
    valid = np.isfinite(x)
    xz = np.where(valid, x, 0.0)

    def windowed(a: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((1, *a.shape[1:])), np.cumsum(a, axis=0)])
        return c[window:] - c[:-window]  # row j = sum over rows j..j+window-1

    if t_len < window:
        return pd.Series(out, index=asset_returns.index)
    s1 = windowed(xz)
    s2 = windowed(xz * xz)
    cnt = windowed(valid.astype(float))
    sxy = windowed(xz[:, :, None] * xz[:, None, :])
    iu = np.triu_indices(n, 1)
    for j in range(s1.shape[0]):
        full = cnt[j] == window
        var = s2[j] - s1[j] ** 2 / window
        cov = sxy[j] - np.outer(s1[j], s1[j]) / window
        vv = np.outer(var, var)
        ok = (np.outer(full, full) & (vv > 1e-30))[iu]
        if ok.any():
            out[j + window - 1] = (cov[iu][ok] / np.sqrt(vv[iu][ok])).mean()
    return pd.Series(out, index=asset_returns.index)


def state_features(net: pd.Series, asset_returns: pd.DataFrame | None = None) -> pd.DataFrame:
    """allocator_state_v1 in pandas: features of a book's net returns (observation 1 = first)."""
    r = net.astype(float)
    f = pd.DataFrame(index=r.index)
    f["port_rvol_20d"] = rolling_std(r, SHORT)
    f["port_rvol_60d"] = rolling_std(r, LONG)
    f["vol_accel"] = f["port_rvol_20d"] / f["port_rvol_60d"]
    equity = (1.0 + r).cumprod()
    f["dd_level"] = equity / np.maximum(1.0, equity.cummax()) - 1.0
    f["dd_slope_10d"] = f["dd_level"] - f["dd_level"].shift(SLOPE)
    # candidate feature (not in the project): drawdown from the trailing 252-observation high
    f["dd_252d"] = equity / np.maximum(1.0, equity.rolling(252, min_periods=1).max()) - 1.0
    if asset_returns is not None:
        a = asset_returns.reindex(r.index)
        f["corr_20d"] = mean_pairwise_corr(a, SHORT)
        f["corr_60d"] = mean_pairwise_corr(a, LONG)
    else:
        f["corr_20d"] = np.nan
        f["corr_60d"] = np.nan
    f["is_ready"] = np.arange(1, len(r) + 1) >= WARM_UP
    return f


def expanding_pct_rank(x: pd.Series, min_history: int) -> pd.Series:
    """Share of the values up to and including t that are <= x_t (no lookahead).

    NaN before ``min_history`` valid observations.
    """
    vals = x.to_numpy(dtype=float)
    out = np.full(len(vals), np.nan)
    seen: list[float] = []
    import bisect

    for i, v in enumerate(vals):
        if not math.isfinite(v):
            continue
        bisect.insort(seen, v)
        if len(seen) >= min_history:
            out[i] = bisect.bisect_right(seen, v) / len(seen)
    return pd.Series(out, index=x.index)


def regime_input(state: pd.DataFrame, corr_min_history: int = 250) -> pd.DataFrame:
    """int_allocator_regime_input plus the scale-free correlation candidates.

    Ready rows only; every derived column uses observations up to its own date.
    """
    ready = state[state["is_ready"]].copy()
    ready["port_rvol_long_run"] = ready["port_rvol_60d"].expanding().mean()
    ready["rvol_ratio_long_run"] = ready["port_rvol_20d"] / ready["port_rvol_long_run"]
    ready["dd_vol_units"] = ready["dd_level"] / ready["port_rvol_long_run"]
    ready["dd_slope_vol_units"] = ready["dd_slope_10d"] / ready["port_rvol_long_run"]
    ready["dd_252d_vol_units"] = ready["dd_252d"] / ready["port_rvol_long_run"]
    c20, c60 = ready["corr_20d"], ready["corr_60d"]
    if c20.notna().any():
        n_obs = c60.notna().cumsum()
        mu = c60.expanding().mean()
        sd = c60.expanding().std(ddof=1)
        ready["corr_z"] = ((c20 - mu) / sd).where(n_obs >= corr_min_history)
        ready["corr_pct"] = expanding_pct_rank(c20, corr_min_history)
        # excess correlation over the book's own long-run level, in units of the
        # room left to 1 (bounded in [-inf, 1]; 0 = at the long-run mean)
        ready["corr_excess"] = ((c20 - mu) / (1.0 - mu)).where(n_obs >= corr_min_history)
    else:
        ready["corr_z"] = np.nan
        ready["corr_pct"] = np.nan
        ready["corr_excess"] = np.nan
    return ready


# --------------------------------------------------------------------------- regimes and scalars


def rules_from_rows(rows: Sequence[tuple[str, str, str, float, float]]) -> list[RegimeRule]:
    return [RegimeRule(f, lvl, d, float(e), float(x)) for f, lvl, d, e, x in rows]


def seed_rules() -> list[RegimeRule]:
    seed = pd.read_csv(SEED_RULES).query("calibration == 'seeds_v1'")
    return [
        RegimeRule(
            r.feature, r.level, r.direction, float(r.enter_threshold), float(r.exit_threshold)
        )
        for r in seed.itertuples()
    ]


def seed_targets() -> dict[str, float]:
    seed = pd.read_csv(SEED_SCALARS).query("calibration == 'seeds_v1'")
    return {r.regime: float(r.target_scalar) for r in seed.itertuples()}


def classify(inputs: pd.DataFrame, rules: Sequence[RegimeRule], min_days: int) -> pd.Series:
    """Regime level (0..3) per row of the regime input, via allocator.regime."""
    names = sorted({r.feature for r in rules})
    values = inputs[names].to_numpy(dtype=float)
    rows = [dict(zip(names, row.tolist(), strict=True)) for row in values]
    steps = classify_regimes(rows, rules, min_days)
    return pd.Series([s.regime_level for s in steps], index=inputs.index, dtype=int)


def scalar_path(
    levels: pd.Series, targets: Mapping[str, float], alpha: float, floor: float, cap: float
) -> pd.Series:
    """Risk scalar decided at each classified close, via allocator.risk."""
    tgt = [float(targets[LEVELS[lv]]) for lv in levels.to_numpy()]
    return pd.Series(smooth_risk_scalar(tgt, alpha=alpha, floor=floor, cap=cap), index=levels.index)


@dataclass(frozen=True)
class GovernorSpec:
    """One governor: rules, scalar map, EWMA alpha, clip, min_days."""

    rules: tuple[RegimeRule, ...]
    targets: Mapping[str, float]
    alpha: float = 0.25
    floor: float = 0.25
    cap: float = 1.0
    min_days: int = 5
    label: str = ""
    extra: dict = field(default_factory=dict)

    def run(self, inputs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        levels = classify(inputs, self.rules, self.min_days)
        return levels, scalar_path(levels, self.targets, self.alpha, self.floor, self.cap)


# ------------------------------------------------------------------ the held book and overlays


@dataclass
class Book:
    """The unscaled held book: daily gross returns and the weights each session holds.

    ``weights`` has one row per rebalance (index = rebalance date, decided at its
    close); ``held`` maps each return date to the rebalance row it holds.
    """

    gross: pd.Series  # daily gross (pre-cost) return of the unscaled book
    held: np.ndarray  # (T,) int row of ``weights`` held on each session
    weights: pd.DataFrame  # (K, N)
    cost_bps: float

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.gross.index)

    @property
    def rebalance_dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.weights.index)

    @property
    def gross_exposure(self) -> pd.Series:
        """sum |w| of the weights held on each session."""
        g = self.weights.abs().sum(axis=1).to_numpy()
        return pd.Series(g[self.held], index=self.gross.index)

    def scaled(self, applied: np.ndarray) -> pd.Series:
        """Net return of the book with weights ``applied[t] * w`` on session t.

        Turnover is sum_i |a_t w_t,i - a_{t-1} w_{t-1,i}| (from zero on the first
        session): on a session that holds the same rebalance as the day before it
        is |a_t - a_{t-1}| x gross exposure, the overlay's own trading.
        """
        w = self.weights.to_numpy(dtype=float)
        g = np.abs(w).sum(axis=1)
        a = np.asarray(applied, dtype=float)
        held = self.held
        turnover = np.empty(len(a))
        turnover[0] = a[0] * g[held[0]]
        same = held[1:] == held[:-1]
        turnover[1:] = np.abs(a[1:] - a[:-1]) * g[held[1:]]
        for t in np.flatnonzero(~same) + 1:
            turnover[t] = np.abs(a[t] * w[held[t]] - a[t - 1] * w[held[t - 1]]).sum()
        net = a * self.gross.to_numpy() - turnover * self.cost_bps / 1e4
        return pd.Series(net, index=self.gross.index)

    def applied(self, decided: pd.Series, cadence: str, missing: float = 1.0) -> np.ndarray:
        """The scalar earning on each session for a series of scalars decided at closes.

        A: at each rebalance, the scalar decided at the previous rebalance's close;
        B: at each rebalance, the scalar decided at that rebalance's close;
        C: every session, the scalar decided at the previous session's close.
        Dates without a decided scalar (warm-up) use ``missing``.
        """
        dates = self.dates
        if cadence == "C":
            prev = decided.reindex(dates).shift(1)
            return prev.fillna(missing).to_numpy()
        reb = self.rebalance_dates
        at_reb = decided.reindex(reb)
        if cadence == "A":
            at_reb = at_reb.shift(1)
        elif cadence != "B":
            raise ValueError(cadence)
        return at_reb.fillna(missing).to_numpy()[self.held]


def solve_k(target_vol: float, make: callable, lo: float = 1e-4, hi: float = 5.0) -> float:
    """Bisection on k so that the realised vol of ``make(k)`` equals ``target_vol``."""
    f_lo, f_hi = ann_vol(make(lo).to_numpy()), ann_vol(make(hi).to_numpy())
    if not (f_lo <= target_vol <= f_hi):
        raise ValueError(f"target vol {target_vol} outside [{f_lo}, {f_hi}]")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ann_vol(make(mid).to_numpy()) < target_vol:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------- data


def load_demo() -> dict:
    """The demo_base run: book, stored state/regime/risk, stored scaled run, asset returns."""
    con = duckdb.connect(str(DEMO_DB), read_only=True)
    q = con.sql
    unscaled = q(
        "select date, held_rebalance_date, gross_return, turnover, transaction_cost, net_return "
        "from portfolio_returns_unscaled where run_id = 'demo_base' order by date"
    ).df()
    unscaled["date"] = pd.to_datetime(unscaled["date"])
    unscaled["held_rebalance_date"] = pd.to_datetime(unscaled["held_rebalance_date"])
    unscaled = unscaled.set_index("date")
    weights = q(
        "select rebalance_date, symbol, weight from weights_raw where run_id = 'demo_base'"
    ).df()
    weights["rebalance_date"] = pd.to_datetime(weights["rebalance_date"])
    w = weights.pivot(index="rebalance_date", columns="symbol", values="weight").fillna(0.0)
    w = w.sort_index()
    held = w.index.get_indexer(unscaled["held_rebalance_date"])
    assert (held >= 0).all()
    config = q("select transaction_cost_bps from stg_run_config").fetchall()
    cost_bps = float(config[0][0])
    book = Book(unscaled["gross_return"], held, w, cost_bps)

    def frame(sql: str) -> pd.DataFrame:
        df = q(sql).df()
        df["date"] = pd.to_datetime(df["date"])
        return df.set_index("date").sort_index()

    state = frame("select * exclude (run_id) from allocator_state_v1 where run_id = 'demo_base'")
    regime = frame("select * exclude (run_id) from allocator_regime_v1 where run_id = 'demo_base'")
    risk = frame("select * exclude (run_id) from allocator_risk_v1 where run_id = 'demo_base'")
    scaled = frame(
        "select date, risk_scalar_used, net_return from portfolio_returns_scaled "
        "where run_id = 'demo_scaled'"
    )
    run_metrics = q("select * from run_metrics").df().set_index("run_id")
    prices = duckdb.sql(f"select date, symbol, close from '{SP500_PRICES}'").df()
    prices["date"] = pd.to_datetime(prices["date"])
    closes = prices.pivot(index="date", columns="symbol", values="close").sort_index()
    asset_returns = closes.pct_change()
    held_symbols = sorted(weights["symbol"].unique())
    con.close()
    return {
        "unscaled": unscaled,
        "book": book,
        "state": state,
        "regime": regime,
        "risk": risk,
        "scaled": scaled,
        "run_metrics": run_metrics,
        "asset_returns": asset_returns[held_symbols],
    }


def load_sp500() -> pd.Series:
    """Daily close-to-close returns of the S&P 500 index from 1990-01-03."""
    px = duckdb.sql(f"select date, close from '{SP500_INDEX}' order by date").df()
    px["date"] = pd.to_datetime(px["date"])
    s = px.set_index("date")["close"]
    return s.pct_change().dropna()


def returns_only_book(returns: pd.Series, cost_bps: float, monthly: bool = False) -> Book:
    """A returns-only book: one unit of exposure held throughout (gross exposure 1).

    ``monthly=True`` gives it a month-end rebalance calendar (same unit weight at
    every rebalance), so cadences A and B can be measured on it.
    """
    dates = pd.DatetimeIndex(returns.index)
    reb = [dates[0] - pd.Timedelta(days=1)]
    if monthly:
        month_end = dates.to_series().groupby(dates.to_period("M")).max()
        reb += list(month_end.iloc[:-1])
    reb_index = pd.DatetimeIndex(reb)
    held = reb_index.searchsorted(dates, side="left") - 1
    w = pd.DataFrame({"INDEX": np.ones(len(reb_index))}, index=reb_index)
    return Book(returns.astype(float), held.astype(int), w, cost_bps)


# ------------------------------------------------------------ synthetic high-correlation market


def high_corr_market(
    seed: int,
    n_symbols: int = 20,
    n_days: int = 8000,
    calm: tuple[float, float, float] = (0.10, 0.16, 0.08),
    crisis: tuple[float, float, float] = (-0.30, 0.45, 0.15),
    p_calm_to_crisis: float = 1.0 / 500.0,
    p_crisis_to_calm: float = 1.0 / 60.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One-factor market whose CALM pairwise correlation is about 0.8.

    Same structure as allocator.synthetic (two-state Markov regime, calm -> crisis
    1/500 a day, crisis -> calm 1/60), but with narrow betas U(0.9, 1.1) and
    idiosyncratic multipliers U(0.9, 1.1), and (drift, factor vol, idio vol)
    per regime chosen so that corr ~ fvol^2 / (fvol^2 + ivol^2): 0.80 calm,
    0.90 in crisis (allocator.synthetic has no correlation knob).
    Returns (daily simple returns, T x N, on business days; crisis flags).
    """
    rng = np.random.default_rng(seed)
    u = rng.random(n_days)
    state = np.zeros(n_days, dtype=bool)
    s = False
    for t in range(1, n_days):
        if u[t] < (p_crisis_to_calm if s else p_calm_to_crisis):
            s = not s
        state[t] = s
    root = math.sqrt(TRADING_DAYS)
    prm = np.where(state[:, None], np.array(crisis)[None, :], np.array(calm)[None, :])
    drift, fvol, ivol = prm[:, 0] / TRADING_DAYS, prm[:, 1] / root, prm[:, 2] / root
    factor = drift + fvol * rng.standard_normal(n_days)
    betas = rng.uniform(0.9, 1.1, n_symbols)
    mults = rng.uniform(0.9, 1.1, n_symbols)
    eps = rng.standard_normal((n_days, n_symbols))
    r = factor[:, None] * betas[None, :] + eps * ivol[:, None] * mults[None, :]
    dates = pd.bdate_range("1990-01-02", periods=n_days)
    cols = [f"S{i:02d}" for i in range(1, n_symbols + 1)]
    return pd.DataFrame(r, index=dates, columns=cols), state
