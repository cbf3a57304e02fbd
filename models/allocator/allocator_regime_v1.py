"""Allocator v1 regime: NORMAL / ELEVATED / STRESS / CRISIS per ready date.

The one sequential step of the allocator (today's regime depends on
yesterday's and on how long it has lasted), so it is a Python model over the
pure, unit-tested state machine in python/allocator/regime.py. Rules are the
run's calibration's rows of the allocator_regime_rules seed
(int_allocator_regime_rules); min_days from the run's configuration
(var allocator_regime_min_days, validated by the gate stg_run_config). Dates
before the state's warm-up is complete get no row: the series starts at the
first ready date.

Incremental: a live update (macros/live_update.sql) classifies only the
dates from its cut on, continuing from the stored last step (regime_state,
the recursion's state as regime.py defines it).
"""

from allocator.layers import regime_frame, required_features, rules_from_frame
from allocator.regime import regime_step_from_state


def model(dbt, session):
    dbt.config(materialized="incremental")
    # the gate (stg_run_config) has validated min_days
    run_id, min_days = dbt.ref("stg_run_config").project("run_id, regime_min_days").fetchall()[0]
    rules = rules_from_frame(dbt.ref("int_allocator_regime_rules").df())

    regime_input = dbt.ref("int_allocator_regime_input")
    features = required_features(rules, regime_input.columns)
    initial = None
    live_cut = dbt.ref("stg_live__update").project("live_cut").fetchall()[0][0]
    if dbt.is_incremental and live_cut is not None:
        stored = session.execute(
            f"select regime_state from {dbt.this} order by date desc limit 1"
        ).fetchall()
        initial = regime_step_from_state(stored[0][0]) if stored else None
        regime_input = regime_input.filter(f"date >= '{live_cut.isoformat()}'::date")
    # only the columns the rules read are loaded
    frame = regime_input.project(", ".join(["date", *features])).df()

    regimes = regime_frame(frame, rules, min_days, initial)
    regimes.insert(0, "run_id", run_id)
    # explicit types: an empty frame (no ready date) has untyped columns
    relation = session.from_df(regimes)
    return relation.project(
        "cast(run_id as varchar) as run_id, cast(date as date) as date, "
        "cast(regime as varchar) as regime, cast(regime_level as integer) as regime_level, "
        "cast(days_in_regime as integer) as days_in_regime, "
        "cast(regime_changed as boolean) as regime_changed, "
        "cast(regime_drivers as varchar) as regime_drivers, "
        "cast(regime_state as varchar) as regime_state"
    )
