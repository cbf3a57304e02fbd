"""Allocator v1 risk scalar per classified date.

regime -> target scalar (the run's calibration's rows of the
allocator_regime_scalars seed, int_allocator_regime_targets), smoothed by an
EWMA (alpha, seeded with the first target) and clipped to [floor, cap] (the
run's parameters, from stg_run_config), via the pure functions in
python/allocator/risk.py.

Incremental: a live update (macros/live_update.sql) smooths only the dates
from its cut on, continuing from the stored last ewma_state (the unclipped
EWMA, the recursion's state).
"""

from allocator.layers import risk_frame, targets_from_records


def model(dbt, session):
    dbt.config(materialized="incremental")
    # the gate (stg_run_config) has validated the parameters
    run_id, alpha, floor, cap = (
        dbt.ref("stg_run_config")
        .project("run_id, risk_ewma_alpha, risk_scalar_floor, risk_scalar_cap")
        .fetchall()[0]
    )
    targets = targets_from_records(
        dbt.ref("int_allocator_regime_targets")
        .project("regime, target_scalar")
        .df()
        .to_dict("records")
    )
    regimes = dbt.ref("allocator_regime_v1")
    initial = None
    live_cut = dbt.ref("stg_live__update").project("live_cut").fetchall()[0][0]
    if dbt.is_incremental and live_cut is not None:
        stored = session.execute(
            f"select ewma_state from {dbt.this} order by date desc limit 1"
        ).fetchall()
        initial = stored[0][0] if stored else None
        regimes = regimes.filter(f"date >= '{live_cut.isoformat()}'::date")

    risk = risk_frame(
        regimes.project("date, regime").df(),
        targets,
        alpha=alpha,
        floor=floor,
        cap=cap,
        initial=initial,
    )
    risk.insert(0, "run_id", run_id)
    # explicit types: an empty frame (no classified date) has untyped columns
    relation = session.from_df(risk)
    return relation.project(
        "cast(run_id as varchar) as run_id, cast(date as date) as date, "
        "cast(regime as varchar) as regime, "
        "cast(target_scalar as double) as target_scalar, cast(risk_scalar as double) as risk_scalar, "
        "cast(ewma_state as double) as ewma_state"
    )
