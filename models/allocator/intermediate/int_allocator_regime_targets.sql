{#-
    Regime -> target risk scalar of the run's calibration
    (stg_run_config.regime_calibration): its rows of the scalars seed.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

targets as (

    select * from {{ ref('allocator_regime_scalars') }}

),

final as (

    select
        targets.calibration,
        targets.regime,
        targets.regime_level,
        targets.target_scalar,
    from targets
    inner join run_config
        on targets.calibration = run_config.regime_calibration

)

select * from final
