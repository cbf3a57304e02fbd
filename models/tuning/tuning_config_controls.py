"""The controls of the two-pass audit for every configuration, one row each:
(b) the constant exposure at the configuration's vol and (c) the vol target
min(1, k / rv20) with k bisected to that vol, priced like the configuration's
book, with both controls' MaxDD and Sharpe (python/allocator/tuning_controls.py)."""

from allocator.tuning import BaselineBook, governor_from_config_json
from allocator.tuning_controls import configuration_controls


def model(dbt, session):
    (config_json,) = dbt.ref("stg_tuning_config").project("baseline_config_json").fetchall()[0]
    book = BaselineBook.from_frames(
        dbt.ref("stg_tuning__regime_input").df(),
        dbt.ref("tuning_baseline_sessions").df(),
        dbt.ref("stg_tuning__weights").df(),
    )
    grid = dbt.ref("stg_tuning__grid").df()
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
