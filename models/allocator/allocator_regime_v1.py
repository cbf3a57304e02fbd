"""Allocator v1 regime: NORMAL / ELEVATED / STRESS / CRISIS per ready date.

The one sequential step of the allocator (today's regime depends on
yesterday's and on how long it has lasted), so it is a Python model over the
pure, unit-tested state machine in python/allocator/regime.py. Rules are the
run's calibration's rows of the allocator_regime_rules seed
(int_allocator_regime_rules); min_days from the run's configuration
(var allocator_regime_min_days, validated by the gate stg_run_config). Dates
before the state's warm-up is complete get no row: the series starts at the
first ready date.
"""

from allocator.layers import regime_frame, required_features, rules_from_frame


def model(dbt, session):
    # the gate (stg_run_config) has validated min_days
    run_id, min_days = dbt.ref("stg_run_config").project("run_id, regime_min_days").fetchall()[0]
    rules = rules_from_frame(dbt.ref("int_allocator_regime_rules").df())

    regime_input = dbt.ref("int_allocator_regime_input")
    features = required_features(rules, regime_input.columns)
    # only the columns the rules read are loaded
    frame = regime_input.project(", ".join(["date", *features])).df()

    regimes = regime_frame(frame, rules, min_days)
    regimes.insert(0, "run_id", run_id)
    # explicit types: an empty frame (no ready date) has untyped columns
    relation = session.from_df(regimes)
    return relation.project(
        "cast(run_id as varchar) as run_id, cast(date as date) as date, "
        "cast(regime as varchar) as regime, cast(regime_level as integer) as regime_level, "
        "cast(days_in_regime as integer) as days_in_regime, "
        "cast(regime_changed as boolean) as regime_changed, "
        "cast(regime_drivers as varchar) as regime_drivers"
    )
