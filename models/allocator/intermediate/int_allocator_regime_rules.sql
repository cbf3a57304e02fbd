{#-
    The regime rules the run classifies with: the rows of the rules seed
    that belong to the run's calibration (stg_run_config.regime_calibration,
    validated by the gate against the seeds). The seed keeps every named
    calibration, so the seeds' original rules stay available beside the
    default.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

rules as (

    select * from {{ ref('allocator_regime_rules') }}

),

final as (

    select
        rules.calibration,
        rules.feature,
        rules.level,
        rules.direction,
        rules.enter_threshold,
        rules.exit_threshold,
        rules.rationale,
    from rules
    inner join run_config
        on rules.calibration = run_config.regime_calibration

)

select * from final
