"""The run's configuration, resolved and validated by the one owner of its
rules (python/allocator/run_config.py), from the vars (stg_run__vars), the
seeds and the published run registry. A problem is returned, not raised:
stg_run_config turns it into the build's error without a Python traceback.
On success the checked input files are bound to the relations the sources
name (allocator.gate.bind_inputs), so no file is read before this check.
"""

from allocator.gate import bind_inputs, config_frame


def model(dbt, session):
    run_vars = dbt.ref("stg_run__vars").fetchall()[0][0]
    frame = config_frame(
        run_vars,
        profiles=dbt.ref("strategy_profiles").df(),
        regime_rules=dbt.ref("allocator_regime_rules").df(),
        regime_scalars=dbt.ref("allocator_regime_scalars").df(),
        session=session,
    )
    bind_inputs(session, dbt.this.schema, frame)
    return frame
