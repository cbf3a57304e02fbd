{#- One row per run: how allocator_state_v1 was computed (version, windows,
    correlation method), which features it has and which it left out and
    why, its date range and size, and the run's configuration hash. -#}
{%- set windows = allocator.allocator_state_windows() -%}
{%- set parameters = {
    'source': 'portfolio_returns_unscaled.net_return (the unscaled book)',
    'observations': 'daily returns counted from the first warm-up session before start (allocator_state_v1_warm_up)',
    'warm_up_source': 'the unscaled book on its last ' ~ (windows['warm_up'] - 1) ~ ' sessions before start (a returns file: its returns; holdings: simulated by the same strategy and execution), inputs to the state only',
    'warm_up_observations': windows['warm_up'],
    'vol_windows': [windows['short'], windows['long']],
    'vol_estimator': 'sample stddev (ddof 1) x sqrt(' ~ windows['annualisation'] ~ ')',
    'drawdown': 'equity compounded from 1.0 at the first warm-up observation; running max includes the starting 1.0',
    'dd_slope_observations': windows['slope'],
    'dd_level_nd': 'equity over its max of the last n observations (the starting 1.0 counts within the first n), minus 1',
    'drawdown_high_observations': windows['drawdown_highs'],
    'corr_windows': [windows['short'], windows['long']],
    'corr_excess': '(corr_20d - m) / (1 - m), m = expanding mean of corr_60d over the ready observations up to the date; null before ' ~ windows['corr_history'] ~ ' of them',
    'corr_history_observations': windows['corr_history'],
    'trend_breadth_observations': windows['breadth'],
    'sleeve_concentration_observations': windows['concentration'],
} -%}

with availability as (

    select * from {{ ref('int_allocator_feature_availability') }}

),

warm_up as (

    select * from {{ ref('allocator_state_v1_warm_up') }}

),

warm_up_summary as (

    select
        min(date) as warm_up_first_date,
        count(*) as warm_up_sessions,
    from warm_up

),

feature_lists as (

    select
        {{ allocator.json_array_agg('feature', 'sort_order', where='is_present') }} as features_present,
        {{ allocator.json_object_agg('feature', 'missing_reason', 'sort_order', where='not is_present') }} as features_missing,
    from availability

),

{{ allocator.allocator_meta(
    layer=ref('allocator_state_v1'),
    date_column='date',
    parameters=parameters,
    parameter_sql=[
        ('correlation_method', 'layer_summary.correlation_method'),
        ('correlation_exact_max_symbols', 'run_config.correlation_exact_max_symbols'),
    ],
    features_present='feature_lists.features_present',
    features_missing='feature_lists.features_missing',
    summary_columns=[
        ('first_ready_date', 'min(case when is_ready then date end)'),
        ('ready_row_count', 'count(case when is_ready then 1 end)'),
        ('correlation_method', 'max(correlation_method)'),
        ('is_ready_at_start', 'coalesce(min(case when is_ready then date end) = min(date), false)'),
    ],
    extra_columns=[
        'layer_summary.first_ready_date',
        'layer_summary.ready_row_count',
        'warm_up_summary.warm_up_first_date',
        'warm_up_summary.warm_up_sessions',
        'layer_summary.is_ready_at_start',
    ],
    joins=['feature_lists', 'warm_up_summary'],
) }}

select * from final
