"""The exploratory S&P 500 grid behind section 4 of the study (about 5 minutes, one core).

    .venv/bin/python benchmarks/governor_study/sp500_grid.py

9,720 settings of the returns-only governor at cadence C (5 bps on |delta s|),
measured 1991-2022 and on the 1991-2006 / 2007-2022 halves: rvol_ratio_long_run
thresholds (ELEVATED x STRESS x CRISIS), dd_vol_units thresholds (ELEVATED x
STRESS or none), the vol_accel rule on/off, min_days, scalar map and EWMA alpha
(floor = the map's CRISIS target). Exits are 0.8 x enter, as in the seeds.
Prints how many settings meet the target, the median effect of each parameter
and the best settings; it is the search whose breadth the NOTES disclose, not
something the study depends on.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import (  # noqa: E402
    LEVELS,
    RegimeRule,
    classify,
    load_sp500,
    metrics,
    regime_input,
    returns_only_book,
    scalar_path,
    state_features,
)

MAPS = {
    "85/55/30": (1.0, 0.85, 0.55, 0.30),
    "80/50/20": (1.0, 0.80, 0.50, 0.20),
    "80/40/10": (1.0, 0.80, 0.40, 0.10),
    "70/30/10": (1.0, 0.70, 0.30, 0.10),
    "60/30/05": (1.0, 0.60, 0.30, 0.05),
}


def main() -> None:
    t0 = time.time()
    r = load_sp500()
    idx = r.index
    windows = {
        "": np.asarray(idx >= "1991-01-01"),
        "h1_": np.asarray((idx >= "1991-01-01") & (idx < "2007-01-01")),
        "h2_": np.asarray(idx >= "2007-01-01"),
    }
    ri = regime_input(state_features(r))
    book = returns_only_book(r, 5.0)
    rows = []
    grid = itertools.product(
        [1.25, 1.5, 2.0],
        [2.0, 2.5],
        [3.0, 4.0],
        [-0.75, -1.0, -1.25],
        [-1.5, -2.0, None],
        [1.45, None],
        [1, 5, 10],
    )
    for v_e, v_s, v_c, d_e, d_s, va, md in grid:
        rules = [
            RegimeRule("rvol_ratio_long_run", "ELEVATED", "above", v_e, 0.8 * v_e),
            RegimeRule("rvol_ratio_long_run", "STRESS", "above", v_s, 0.8 * v_s),
            RegimeRule("rvol_ratio_long_run", "CRISIS", "above", v_c, 0.8 * v_c),
            RegimeRule("dd_vol_units", "ELEVATED", "below", d_e, 0.8 * d_e),
        ]
        if d_s is not None:
            rules.append(RegimeRule("dd_vol_units", "STRESS", "below", d_s, 0.8 * d_s))
        if va is not None:
            rules.append(RegimeRule("vol_accel", "ELEVATED", "above", va, 1.15))
        levels = classify(ri, rules, md)
        for name, tg in MAPS.items():
            for alpha in (0.25, 0.5, 1.0):
                scal = scalar_path(levels, dict(zip(LEVELS, tg, strict=True)), alpha, tg[3], 1.0)
                net = book.scaled(book.applied(scal, "C"))
                row = {
                    "rvol E/S/C": f"{v_e}/{v_s}/{v_c}",
                    "dd E/S": f"{d_e}/{d_s}",
                    "vol_accel": va,
                    "min_days": md,
                    "map": name,
                    "alpha": alpha,
                }
                for prefix, mask in windows.items():
                    m = metrics(net[mask])
                    row[prefix + "maxdd"] = m["maxdd"]
                    row[prefix + "sharpe"] = m["sharpe"]
                rows.append(row)
    df = pd.DataFrame(rows)
    bh = {p: metrics(r[m]) for p, m in windows.items()}
    meets = (df["maxdd"] > -0.35) & (df["sharpe"] >= 0.55)
    halves = (
        (df["h1_maxdd"] > bh["h1_"]["maxdd"])
        & (df["h1_sharpe"] > bh["h1_"]["sharpe"])
        & (df["h2_maxdd"] > bh["h2_"]["maxdd"])
        & (df["h2_sharpe"] > bh["h2_"]["sharpe"])
    )
    stretch = (df["maxdd"] >= -0.266) & (df["sharpe"] >= 0.68)
    pd.set_option("display.width", 200)
    print(f"{len(df)} settings in {time.time() - t0:.0f} s")
    print(f"meet MaxDD > -35% and Sharpe >= 0.55 (1991-2022): {int(meets.sum())}")
    print(
        "... and beat buy-and-hold on MaxDD and Sharpe in both halves: "
        f"{int((meets & halves).sum())}"
    )
    print(f"reach the stretch (MaxDD >= -26.6%, Sharpe >= 0.68): {int(stretch.sum())}")
    print(f"best Sharpe of all: {df['sharpe'].max():.3f}; best MaxDD: {df['maxdd'].max():.3f}")
    print("\nmedian MaxDD / Sharpe by parameter value:")
    for col in ["rvol E/S/C", "dd E/S", "vol_accel", "min_days", "map", "alpha"]:
        med = df.groupby(col, dropna=False)[["maxdd", "sharpe"]].median().round(3)
        print(f"\n{col}\n{med.T.to_string()}")
    print("\nbest Sharpe among settings meeting the target:")
    cols = ["rvol E/S/C", "dd E/S", "vol_accel", "min_days", "map", "alpha", "maxdd", "sharpe"]
    cols += ["h1_maxdd", "h1_sharpe", "h2_maxdd", "h2_sharpe"]
    print(df[meets].sort_values("sharpe", ascending=False)[cols].head(10).round(3).to_string())


if __name__ == "__main__":
    main()
