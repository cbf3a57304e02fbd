"""The vol-target control's scale k, one row per run.

k makes the realised volatility of the exposure min(1, k / rv20), delivered
with the governor's cadence and lag and priced like the scaled book, equal to
the scaled run's; found by bisection in python/allocator/controls.py, priced by
allocator.pricing (the Python form of macros/price_exposure.sql).
"""

import pandas as pd

from allocator.controls import solve_vol_target_k
from allocator.pricing import book_from_frames


def model(dbt, session):
    run_id, cost_bps, missing, sleeve_scalars = (
        dbt.ref("stg_run_config")
        .project("run_id, transaction_cost_bps, apply_missing_scalar_as, sleeve_scalars")
        .fetchall()[0]
    )
    sessions = (
        dbt.ref("int_controls__sessions")
        .project(
            "date, case when is_returns_only then null else held_rebalance_date end "
            "as held_rebalance_date, unscaled_gross_return as gross_return, "
            "unscaled_turnover as turnover, "
            "governor_exposure, decided_rvol_20d, governor_net_return"
        )
        .order("date")
        .df()
    )
    weights = dbt.ref("weights_raw").project("rebalance_date, symbol, weight").df()

    book = book_from_frames(sessions, weights, cost_bps)
    rvol = sessions["decided_rvol_20d"].to_numpy(dtype=float, na_value=float("nan"))
    # sleeve scalars: one exposure does not price the governor, its returns do
    governor_returns = (
        None if sleeve_scalars == "off" else sessions["governor_net_return"].to_numpy(float)
    )
    scale = solve_vol_target_k(
        book, rvol, sessions["governor_exposure"].to_numpy(float), missing, governor_returns
    )
    frame = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "vol_target_k": scale.k,
                "target_daily_vol": scale.target_daily_vol,
                "matched_daily_vol": scale.matched_daily_vol,
                "bisection_halvings": scale.halvings,
            }
        ]
    )
    # explicit types: k is None when the target is out of reach
    return session.from_df(frame).project(
        "cast(run_id as varchar) as run_id, cast(vol_target_k as double) as vol_target_k, "
        "cast(target_daily_vol as double) as target_daily_vol, "
        "cast(matched_daily_vol as double) as matched_daily_vol, "
        "cast(bisection_halvings as integer) as bisection_halvings"
    )
