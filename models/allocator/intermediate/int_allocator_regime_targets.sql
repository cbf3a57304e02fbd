{#-
    Regime -> target risk scalar the run scales with, as the gate resolved
    it (stg_run_config.regime_targets_json): its calibration's rows of the
    scalars seed (stg_run_config.regime_calibration), or a governor
    config's map (var governor_config).
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

targets as (

    select * from {{ ref('allocator_regime_scalars') }}

),

levels as (

    select distinct regime, regime_level, from targets

),

final as (

    select
        run_config.regime_calibration as calibration,
        levels.regime,
        levels.regime_level,
        cast(json_extract(run_config.regime_targets_json, '$.' || levels.regime) as double) as target_scalar,
    from levels
    cross join run_config

)

select * from final
