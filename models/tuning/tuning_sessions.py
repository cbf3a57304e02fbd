"""Every configuration's book, one row per (configuration, session): its
regime, the scalar on the book by its cadence, the overlay's turnover and the
net return, costs included (python/allocator/tuning.py: the vectorised
recursions of sweep.py and the pricing of macros/price_exposure.sql). A grid
with sleeve scalars (axis sleeve_scalars) also reads the baseline's sleeves
and the sleeve calibrations."""

from allocator.tuning import governor_from_config_json, read_baseline, sweep_relation


def model(dbt, session):
    (config_json,) = dbt.ref("stg_tuning_config").project("baseline_config_json").fetchall()[0]
    grid = dbt.ref("stg_tuning__grid").df()
    # dbt finds a Python model's refs as plain calls; the sleeves' relations
    # are read only for a grid with sleeve scalars
    book = read_baseline(
        grid,
        dbt.ref("stg_tuning__regime_input"),
        dbt.ref("tuning_baseline_sessions"),
        dbt.ref("stg_tuning__weights"),
        dbt.ref("stg_tuning__sleeve_weights"),
        dbt.ref("stg_tuning__sleeve_returns"),
        dbt.ref("allocator_sleeve_scalars"),
    )
    # the chunks' table is dropped by this model's post-hook once copied
    chunks = f"{dbt.this.schema}.tuning_sessions__chunks"
    return sweep_relation(session, book, governor_from_config_json(config_json), grid, chunks)
