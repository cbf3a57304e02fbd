{#-
    The run registry: one row per published run. A run appears here only when
    it was built and tested whole (macros/publish_run.sql publishes every
    table of a run in one transaction), so a registered run is complete.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

fingerprints as (

    select * from {{ ref('stg_run__input_fingerprints') }}

),

metrics as (

    select * from {{ ref('run_metrics') }}

),

final as (

    select
        run_config.run_id,
        run_config.run_kind,
        run_config.strategy_profile,
        run_config.start_date,
        run_config.end_date,
        run_config.portfolio_source,
        run_config.allocator_enabled,
        run_config.allocator_mode,
        run_config.precomputed_source,
        run_config.precomputed_source_kind,
        run_config.unscaled_layers_from_run_id,
        run_config.config_json,
        run_config.config_hash,
        fingerprints.input_fingerprint,
        -- each file's own, so `allocator runs` can say which files a run read
        fingerprints.prices_fingerprint,
        fingerprints.benchmark_fingerprint,
        fingerprints.weights_fingerprint,
        fingerprints.portfolio_returns_fingerprint,
        -- what a scaled run's baseline was when it was compared; the publish of
        -- a changed baseline marks the comparison stale
        run_config.baseline_config_hash,
        run_config.baseline_input_fingerprint,
        case when run_config.precomputed_source_kind = 'run' then 'current' end as comparison_status,
        metrics.return_days,
        -- set by the publish: the data tests this build ran and passed
        cast(null as integer) as data_tests_passed,
        run_config.dbt_invocation_id,
        run_config.created_at,
    from run_config
    cross join fingerprints
    left join metrics
        on run_config.run_id = metrics.run_id

)

select * from final
