{#- One row per run: how the lagged scalars were applied (mode, lag,
    fill value, where a precomputed run loaded them from), how many
    rebalances fell back to the fill value, date range and size, and the
    run's configuration hash. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

applied as (

    select * from {{ ref('allocator_risk_v1_applied') }}

),

used as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

applied_summary as (

    select
        min(rebalance_date) as first_date,
        max(rebalance_date) as last_date,
        count(*) as row_count,
        count(case when is_missing_filled then 1 end) as missing_filled_count,
        count(risk_scalar_computed) as computed_count,
    from applied

),

used_summary as (

    select
        count(case when is_missing_filled then 1 end) as used_missing_filled_count,
        count(case when risk_scalar_used < 1.0 then 1 end) as scaled_rebalance_count,
        min(risk_scalar_used) as min_scalar_used,
        avg(risk_scalar_used) as mean_scalar_used,
    from used

),

final as (

    select
        run_config.run_id,
        '{{ allocator.allocator_v1_version() }}' as version,
        cast({{ allocator.json_object_sql([
            ('mode', 'run_config.allocator_mode'),
            ('enabled', 'run_config.allocator_enabled'),
            ('lag_rebalances', '1'),
            ('apply_missing_scalar_as', 'run_config.apply_missing_scalar_as'),
            ('rebalances', "case when run_config.portfolio_source = 'returns_file' then 'every recorded date (returns-only portfolio)' else 'int_rebalance_calendar.is_recorded_rebalance' end"),
            ('precomputed_source_kind', 'run_config.precomputed_source_kind'),
            ('precomputed_source', 'run_config.precomputed_source'),
            ('missing_filled_rebalances', 'applied_summary.missing_filled_count'),
            ('used_missing_filled_rebalances', 'used_summary.used_missing_filled_count'),
            ('scaled_rebalances', 'used_summary.scaled_rebalance_count'),
            ('min_scalar_used', 'used_summary.min_scalar_used'),
            ('mean_scalar_used', 'used_summary.mean_scalar_used'),
        ]) }} as {{ dbt.type_string() }}) as parameters,
        case when applied_summary.computed_count > 0 then '["risk_scalar"]' else '[]' end as features_present,
        case
            when applied_summary.computed_count > 0 then '{}'
            else '{"risk_scalar":"no rebalance has a computed risk scalar: every applied scalar is apply_missing_scalar_as"}'
        end as features_missing,
        applied_summary.first_date,
        applied_summary.last_date,
        applied_summary.row_count,
        run_config.config_hash,
        run_config.created_at,
    from run_config
    cross join applied_summary
    cross join used_summary

)

select * from final
