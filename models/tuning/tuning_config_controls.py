"""The controls of the two-pass audit for every configuration, one row each:
(b) the constant exposure at the configuration's vol and (c) the vol target
min(1, k / rv20) with k bisected to that vol, priced like the configuration's
book, with both controls' MaxDD and Sharpe (python/allocator/tuning_controls.py).
The configuration's vol is its own book's: by sleeve under sleeve scalars."""

from allocator.tuning import governor_from_config_json, read_baseline
from allocator.tuning_controls import configuration_controls


def model(dbt, session):
    (config_json,) = dbt.ref("stg_tuning_config").project("baseline_config_json").fetchall()[0]
    grid = dbt.ref("stg_tuning__grid").df()
    # a configuration with sleeve scalars is priced by sleeve, as in the sweep
    book = read_baseline(
        grid,
        dbt.ref("stg_tuning__regime_input"),
        dbt.ref("tuning_baseline_sessions"),
        dbt.ref("stg_tuning__weights"),
        dbt.ref("stg_tuning__sleeve_weights"),
        dbt.ref("stg_tuning__sleeve_returns"),
        dbt.ref("allocator_sleeve_scalars"),
    )
    controls = configuration_controls(book, governor_from_config_json(config_json), grid)
    # explicit types: k and the vol target's metrics are null when no k reaches the vol
    return session.from_df(controls).project(
        "cast(config_id as integer) as config_id, "
        "cast(vol_matched_exposure as double) as vol_matched_exposure, "
        "cast(vol_target_k as double) as vol_target_k, "
        "cast(vol_matched_max_drawdown as double) as vol_matched_max_drawdown, "
        "cast(vol_matched_sharpe as double) as vol_matched_sharpe, "
        "cast(vol_target_max_drawdown as double) as vol_target_max_drawdown, "
        "cast(vol_target_sharpe as double) as vol_target_sharpe"
    )
