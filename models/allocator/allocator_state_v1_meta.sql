{#- One row per run: how allocator_state_v1 was computed (version, windows,
    correlation method), which features it has and which it left out and
    why, its date range and size, and the run's configuration hash. -#}
{%- set windows = allocator.allocator_state_windows() -%}
{%- set parameters = {
    'source': 'portfolio_returns_unscaled.net_return (the unscaled book)',
    'observations': 'recorded daily returns counted from start',
    'warm_up_observations': windows['warm_up'],
    'vol_windows': [windows['short'], windows['long']],
    'vol_estimator': 'sample stddev (ddof 1) x sqrt(' ~ windows['annualisation'] ~ ')',
    'drawdown': 'equity compounded from 1.0; running max includes the starting 1.0',
    'dd_slope_observations': windows['slope'],
    'corr_windows': [windows['short'], windows['long']],
    'trend_breadth_observations': windows['breadth'],
    'sleeve_concentration_observations': windows['concentration'],
} -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

state as (

    select * from {{ ref('allocator_state_v1') }}

),

availability as (

    select * from {{ ref('int_allocator_feature_availability') }}

),

state_summary as (

    select
        min(date) as first_date,
        max(date) as last_date,
        count(*) as row_count,
        min(case when is_ready then date end) as first_ready_date,
        count(case when is_ready then 1 end) as ready_row_count,
        max(correlation_method) as correlation_method,
    from state

),

feature_lists as (

    select
        {{ allocator.json_array_agg('feature', 'sort_order', where='is_present') }} as features_present,
        {{ allocator.json_object_agg('feature', 'missing_reason', 'sort_order', where='not is_present') }} as features_missing,
    from availability

),

final as (

    select
        run_config.run_id,
        '{{ allocator.allocator_v1_version() }}' as version,
        {{ allocator.json_merge_sql(
            allocator.json_literal(parameters),
            allocator.json_object_sql([
                ('correlation_method', 'state_summary.correlation_method'),
                ('correlation_exact_max_symbols', 'run_config.correlation_exact_max_symbols'),
            ])
        ) }} as parameters,
        feature_lists.features_present,
        feature_lists.features_missing,
        state_summary.first_date,
        state_summary.last_date,
        state_summary.row_count,
        state_summary.first_ready_date,
        state_summary.ready_row_count,
        run_config.config_hash,
        run_config.created_at,
    from run_config
    cross join state_summary
    cross join feature_lists

)

select * from final
