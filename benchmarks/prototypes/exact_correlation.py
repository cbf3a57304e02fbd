"""Prototype (not used by the pipeline): the exact average pairwise correlation
of int_allocator_correlation in O(T * w * N) with numpy instead of O(T * N^2)
pair rows in SQL.

For a window ending at day d, let U be the symbols with a full window (w joint
observations, i.e. no missing return) and a non-zero variance. Standardise each
symbol within the window, z_it = (r_it - mean_i) / sd_i (ddof 1), so that
sum_t z_it^2 = w - 1 and corr_ij = sum_t z_it z_jt / (w - 1). Then

    sum_{i != j in U} corr_ij = sum_t (sum_{i in U} z_it)^2 / (w - 1) - |U|
    mean_{i < j} corr_ij      = that / (|U| (|U| - 1))

which is the SQL model's exact mean (a pair counts iff both symbols have a full
window, because a joint count of w needs both returns on every window day).

Checked against the SQL model on the 100 x 8000 synthetic run: the 20- and
60-observation means agree to 2e-15 and the pair counts match exactly; see
benchmarks/RESULTS.md ("Where the time goes") for the timings.

    python benchmarks/prototypes/exact_correlation.py <built database> <run_id>
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def mean_pairwise_correlation(
    returns: np.ndarray, window: int, block: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(mean correlation, usable pairs) per row of a (T, N) return matrix (NaN =
    missing); rows before the first full window get NaN and 0 pairs."""
    n_rows = returns.shape[0]
    means = np.full(n_rows, np.nan)
    pairs = np.zeros(n_rows, dtype=np.int64)
    windows = sliding_window_view(returns, window, axis=0)  # (T - w + 1, N, w), a view
    for lo in range(0, windows.shape[0], block):
        x = windows[lo : lo + block]
        full = ~np.isnan(x).any(axis=2)
        dev = x - x.mean(axis=2, keepdims=True)
        ss = (dev * dev).sum(axis=2)
        usable = full & (ss > 0) & np.isfinite(ss)
        sd = np.sqrt(np.where(usable, ss, 1.0) / (window - 1))
        z = np.where(usable[:, :, None], dev / sd[:, :, None], 0.0)
        across = z.sum(axis=1)  # (block, w): sum over symbols per window day
        k = usable.sum(axis=1)
        total = (across * across).sum(axis=1) / (window - 1) - k
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(k >= 2, total / (k * (k - 1.0)), np.nan)
        rows = slice(lo + window - 1, lo + window - 1 + x.shape[0])
        means[rows] = value
        pairs[rows] = k * (k - 1) // 2
    return means, pairs


def _compare(db: str, run_id: str) -> None:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    t0 = time.perf_counter()
    frame = con.execute(
        """
        with universe as (select distinct symbol from weights_raw where run_id = $run_id),
        cells as (
            select o.observation_index, u.symbol, m.simple_return
            from int_allocator_observations as o
            cross join universe as u
            left join stg_market__returns as m on m.date = o.date and m.symbol = u.symbol
        )
        pivot cells on symbol using first(simple_return)
        group by observation_index order by observation_index
        """,
        {"run_id": run_id},
    ).fetchnumpy()
    frame.pop("observation_index")
    returns = np.column_stack([np.asarray(v, dtype=float) for v in frame.values()])
    t1 = time.perf_counter()
    c20, p20 = mean_pairwise_correlation(returns, 20)
    c60, p60 = mean_pairwise_correlation(returns, 60)
    t2 = time.perf_counter()
    sql = con.execute(
        "select corr_20d, corr_60d, corr_20d_pairs, corr_60d_pairs "
        "from int_allocator_correlation order by date"
    ).df()
    print(
        f"T={returns.shape[0]} N={returns.shape[1]}: load+pivot {t1 - t0:.2f} s, "
        f"numpy {t2 - t1:.2f} s"
    )
    for name, mine, pairs in (("corr_20d", c20, p20), ("corr_60d", c60, p60)):
        theirs = sql[name].to_numpy(dtype=float, na_value=np.nan)
        same_nulls = np.array_equal(np.isnan(theirs), np.isnan(mine))
        diff = np.nanmax(np.abs(theirs - mine))
        same_pairs = np.array_equal(sql[f"{name}_pairs"].to_numpy(), pairs)
        print(f"{name}: max |diff| {diff:.2e}, same nulls {same_nulls}, same pairs {same_pairs}")


if __name__ == "__main__":
    _compare(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "bench_base")
