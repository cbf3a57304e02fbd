{#-
    The two-pass audit, one row per scaled run paired with its baseline
    (runs.precomputed_source): performance of both runs and the deltas, how
    the allocator used its scalar, regime stickiness, and one status column
    per interpretation flag. The wide form for a dashboard tile; the tidy
    two_pass_* marts hold the same figures by metric, regime and flag.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

metrics as (

    select * from {{ ref('two_pass_metrics') }}

),

usage as (

    select * from {{ ref('two_pass_allocator_usage') }}

),

flags as (

    select * from {{ ref('two_pass_flags') }}

),

metric_columns as (

    select
        scaled_run_id,
        max(case when metric = 'cagr' then baseline end) as baseline_cagr,
        max(case when metric = 'cagr' then scaled end) as scaled_cagr,
        max(case when metric = 'cagr' then delta end) as delta_cagr,
        max(case when metric = 'ann_vol' then baseline end) as baseline_ann_vol,
        max(case when metric = 'ann_vol' then scaled end) as scaled_ann_vol,
        max(case when metric = 'ann_vol' then delta end) as delta_ann_vol,
        max(case when metric = 'sharpe' then baseline end) as baseline_sharpe,
        max(case when metric = 'sharpe' then scaled end) as scaled_sharpe,
        max(case when metric = 'sharpe' then delta end) as delta_sharpe,
        max(case when metric = 'max_drawdown' then baseline end) as baseline_max_drawdown,
        max(case when metric = 'max_drawdown' then scaled end) as scaled_max_drawdown,
        max(case when metric = 'max_drawdown' then delta end) as delta_max_drawdown,
        max(case when metric = 'worst_month' then baseline end) as baseline_worst_month,
        max(case when metric = 'worst_month' then scaled end) as scaled_worst_month,
        max(case when metric = 'worst_month' then delta end) as delta_worst_month,
        max(case when metric = 'worst_quarter' then baseline end) as baseline_worst_quarter,
        max(case when metric = 'worst_quarter' then scaled end) as scaled_worst_quarter,
        max(case when metric = 'worst_quarter' then delta end) as delta_worst_quarter,
    from metrics
    group by scaled_run_id

),

flag_columns as (

    select
        scaled_run_id,
        max(case when flag = 'maxdd_vs_baseline' then status end) as flag_maxdd_vs_baseline,
        max(case when flag = 'worst_month_quarter' then status end) as flag_worst_month_quarter,
        max(case when flag = 'sharpe_change' then status end) as flag_sharpe_change,
        max(case when flag = 'regime_transitions' then status end) as flag_regime_transitions,
        max(case when flag = 'scalar_below_one_share' then status end) as flag_scalar_below_one_share,
        max(case when flag = 'derisk_in_worst_drawdown' then status end) as flag_derisk_in_worst_drawdown,
        max(case when flag = 'derisk_events_in_stress' then status end) as flag_derisk_events_in_stress,
        max(case when flag = 'risk_governor' then status end) as flag_risk_governor,
        max(case when flag = 'like_for_like' then status end) as flag_like_for_like,
        max(case when flag = 'timing_skill' then status end) as flag_timing_skill,
        max(case when flag = 'longest_alarm_spell' then status end) as flag_longest_alarm_spell,
        max(case when flag = 'months_flagged' then status end) as flag_months_flagged,
        max(case when flag = 'derisked_days' then status end) as flag_derisked_days,
        max(case when flag = 'false_alarms' then status end) as flag_false_alarms,
        cast(sum(case when status = 'failure' then 1 else 0 end) as {{ dbt.type_bigint() }}) as flags_failure,
        cast(sum(case when status = 'warning' then 1 else 0 end) as {{ dbt.type_bigint() }}) as flags_warning,
        cast(sum(case when status = 'good' then 1 else 0 end) as {{ dbt.type_bigint() }}) as flags_good,
    from flags
    group by scaled_run_id

),

final as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        pairs.strategy_profile,
        pairs.start_date,
        pairs.end_date,
        pairs.is_like_for_like,
        -- 'stale' once the baseline is published again with another
        -- configuration or other data (macros/publish_run.sql)
        'current' as comparison_status,
        metric_columns.baseline_cagr,
        metric_columns.scaled_cagr,
        metric_columns.delta_cagr,
        metric_columns.baseline_ann_vol,
        metric_columns.scaled_ann_vol,
        metric_columns.delta_ann_vol,
        metric_columns.baseline_sharpe,
        metric_columns.scaled_sharpe,
        metric_columns.delta_sharpe,
        metric_columns.baseline_max_drawdown,
        metric_columns.scaled_max_drawdown,
        metric_columns.delta_max_drawdown,
        metric_columns.baseline_worst_month,
        metric_columns.scaled_worst_month,
        metric_columns.delta_worst_month,
        metric_columns.baseline_worst_quarter,
        metric_columns.scaled_worst_quarter,
        metric_columns.delta_worst_quarter,
        usage.rebalances_total,
        usage.rebalances_scaled,
        usage.pct_scaled,
        usage.scalar_mean,
        usage.scalar_min,
        usage.scalar_max,
        usage.regime_days,
        usage.regime_transitions,
        usage.transitions_per_year,
        usage.baseline_worst_dd_peak_date,
        usage.baseline_worst_dd_trough_date,
        usage.worst_dd_rebalances,
        usage.worst_dd_rebalances_scaled,
        flag_columns.flag_maxdd_vs_baseline,
        flag_columns.flag_worst_month_quarter,
        flag_columns.flag_sharpe_change,
        flag_columns.flag_regime_transitions,
        flag_columns.flag_scalar_below_one_share,
        flag_columns.flag_derisk_in_worst_drawdown,
        flag_columns.flag_derisk_events_in_stress,
        flag_columns.flag_risk_governor,
        flag_columns.flag_like_for_like,
        flag_columns.flag_timing_skill,
        flag_columns.flag_longest_alarm_spell,
        flag_columns.flag_months_flagged,
        flag_columns.flag_derisked_days,
        flag_columns.flag_false_alarms,
        flag_columns.flags_failure,
        flag_columns.flags_warning,
        flag_columns.flags_good,
        case
            when flag_columns.flags_failure > 0 then 'failure'
            when flag_columns.flags_warning > 0 then 'warning'
            else 'good'
        end as overall_status,
        run_config.created_at as scaled_created_at,
    from pairs
    cross join run_config
    inner join metric_columns
        on pairs.scaled_run_id = metric_columns.scaled_run_id
    inner join usage
        on pairs.scaled_run_id = usage.scaled_run_id
    inner join flag_columns
        on pairs.scaled_run_id = flag_columns.scaled_run_id

)

select * from final
