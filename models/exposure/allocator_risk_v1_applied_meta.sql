{#- One row per run: how the lagged scalars were applied (mode, lag,
    fill value, where a precomputed run loaded them from), how many
    rebalances fell back to the fill value, date range and size, and the
    run's configuration hash. -#}
{#- the layer's one input is the computed scalar; it is missing when no
    rebalance has one -#}
{%- set features_present -%}
    case when layer_summary.computed_count > 0 then '["risk_scalar"]' else '[]' end
{%- endset -%}
{%- set features_missing -%}
    case
        when layer_summary.computed_count > 0 then '{}'
        else '{"risk_scalar":"no rebalance has a computed risk scalar: every applied scalar is apply_missing_scalar_as"}'
    end
{%- endset -%}

with used as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

used_summary as (

    select
        count(case when is_missing_filled then 1 end) as used_missing_filled_count,
        count(case when is_scaled then 1 end) as scaled_rebalance_count,
        min(risk_scalar_used) as min_scalar_used,
        avg(risk_scalar_used) as mean_scalar_used,
    from used

),

{{ allocator.allocator_meta(
    layer=ref('allocator_risk_v1_applied'),
    date_column='rebalance_date',
    parameters=none,
    parameter_sql=[
        ('mode', 'run_config.allocator_mode'),
        ('enabled', 'run_config.allocator_enabled'),
        ('lag_rebalances', '1'),
        ('apply_missing_scalar_as', 'run_config.apply_missing_scalar_as'),
        ('rebalances', "case when run_config.portfolio_source = 'returns_file' then 'every recorded date (returns-only portfolio)' else 'int_rebalance_calendar.is_recorded_rebalance' end"),
        ('precomputed_source_kind', 'run_config.precomputed_source_kind'),
        ('precomputed_source', 'run_config.precomputed_source'),
        ('missing_filled_rebalances', 'layer_summary.missing_filled_count'),
        ('used_missing_filled_rebalances', 'used_summary.used_missing_filled_count'),
        ('scaled_rebalances', 'used_summary.scaled_rebalance_count'),
        ('min_scalar_used', 'used_summary.min_scalar_used'),
        ('mean_scalar_used', 'used_summary.mean_scalar_used'),
    ],
    features_present=features_present,
    features_missing=features_missing,
    summary_columns=[
        ('missing_filled_count', 'count(case when is_missing_filled then 1 end)'),
        ('computed_count', 'count(risk_scalar_computed)'),
    ],
    joins=['used_summary'],
) }}

select * from final
