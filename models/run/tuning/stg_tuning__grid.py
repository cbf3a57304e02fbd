"""The configurations a tuning tries, one row each: the grid file (var
tuning_grid_path, CSV or JSON) with blanks filled from the baseline's
governor, the baseline's own settings as config 0, duplicates dropped
(python/allocator/tuning.py). A grid above the tuning's max_configurations
is refused before it is built; a sleeve_scalars value must name a sleeve
calibration of seeds/allocator_sleeve_scalars.csv (or off, book)."""

from allocator.tuning import governor_from_config_json, load_grid, resolve_grid


def model(dbt, session):
    grid_path, config_json, limit = (
        dbt.ref("stg_tuning_config")
        .project("grid_path, baseline_config_json, max_configurations")
        .fetchall()[0]
    )
    seed = dbt.ref("allocator_sleeve_scalars").project("sleeve_calibration").df()
    calibrations = sorted(seed["sleeve_calibration"].astype(str).unique())
    return resolve_grid(
        load_grid(grid_path, int(limit)), governor_from_config_json(config_json), calibrations
    )
