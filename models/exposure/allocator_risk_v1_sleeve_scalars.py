"""Stage 6: the risk scalar of each sleeve per classified date.

The book's regime path (allocator_regime_v1) mapped through each sleeve's
targets (int_exposure_sleeve_targets: a sleeve calibration's seed rows, or
the book's map for every sleeve) and smoothed and clipped by the book
scalar's recursion and parameters, one series per sleeve, via the pure
functions of python/allocator/risk.py (allocator.layers.sleeve_risk_frame).
No rows when the run's sleeve_scalars is off.
"""

from allocator.layers import sleeve_risk_frame, sleeve_targets_from_records


def model(dbt, session):
    # the gate (stg_run_config) has validated the parameters
    run_id, alpha, floor, cap = (
        dbt.ref("stg_run_config")
        .project("run_id, risk_ewma_alpha, risk_scalar_floor, risk_scalar_cap")
        .fetchall()[0]
    )
    targets = sleeve_targets_from_records(
        dbt.ref("int_exposure_sleeve_targets")
        .project("sleeve, regime, target_scalar")
        .df()
        .to_dict("records")
    )
    regimes = dbt.ref("allocator_regime_v1").project("date, regime").df()
    risk = sleeve_risk_frame(regimes, targets, alpha=alpha, floor=floor, cap=cap)
    risk.insert(0, "run_id", run_id)
    # explicit types: an empty frame (option off) has untyped columns
    relation = session.from_df(risk)
    return relation.project(
        "cast(run_id as varchar) as run_id, cast(date as date) as date, "
        "cast(sleeve as varchar) as sleeve, cast(regime as varchar) as regime, "
        "cast(target_scalar as double) as target_scalar, "
        "cast(risk_scalar as double) as risk_scalar, cast(ewma_state as double) as ewma_state"
    )
