"""The tuning's settings, one row: the vars (stg_tuning__vars) resolved and
checked by python/allocator/tuning.py, with the baseline's published
configuration, whose governor the grid's blanks stand for."""

import json

import pandas as pd

from allocator.tuning import resolve_tuning


def model(dbt, session):
    tuning_vars = dbt.ref("stg_tuning__vars").fetchall()
    given = json.loads(tuning_vars[0][0])
    runs = dbt.source("published_marts", "runs").project("run_id, config_json").df()
    baseline = runs[runs["run_id"] == given.get("tuning_baseline_run_id")]
    settings = resolve_tuning(given, baseline["config_json"].iloc[0] if len(baseline) else None)
    return pd.DataFrame([settings])
