{#-
    What the interpretation flags (two_pass_flags) judge, one row per paired
    scaled run: the pair's profiles and windows, baseline, scaled and delta of
    every compared metric, the allocator's usage, and how many of the top
    de-risk events met real stress, the controls the governor is judged
    against for timing skill (two_pass_controls), how long it stayed
    alarmed and de-risked (two_pass_false_alarms, the scaled book's
    sessions), and the flags' thresholds.
-#}
{%- set t = allocator.two_pass_flag_thresholds() -%}

with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

metrics as (

    select * from {{ ref('two_pass_metrics') }}

),

usage as (

    select * from {{ ref('two_pass_allocator_usage') }}

),

derisk_events as (

    select * from {{ ref('two_pass_derisk_events') }}

),

controls as (

    select * from {{ ref('two_pass_controls') }}

),

false_alarms as (

    select * from {{ ref('two_pass_false_alarms') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

derisked_days as (

    -- sessions whose book held a scalar materially below 1: how long the
    -- governor kept the book de-risked, whatever the rebalance calendar
    select
        pairs.scaled_run_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as sessions_total,
        cast(sum(case when portfolio_returns.risk_scalar_used < run_config.materially_scaled_below then 1 else 0 end) as {{ dbt.type_bigint() }}) as sessions_derisked,
    from pairs
    inner join portfolio_returns
        on pairs.scaled_run_id = portfolio_returns.run_id
    cross join run_config
    group by pairs.scaled_run_id

),

metric_deltas as (

    select
        scaled_run_id,
        {%- for metric in allocator.two_pass_metric_list() %}
        max(case when metric = '{{ metric.metric }}' then baseline end) as baseline_{{ metric.metric }},
        max(case when metric = '{{ metric.metric }}' then scaled end) as scaled_{{ metric.metric }},
        max(case when metric = '{{ metric.metric }}' then delta end) as delta_{{ metric.metric }},
        {%- endfor %}
    from metrics
    group by scaled_run_id

),

event_alignment as (

    -- "de-risk events align with actual stress": the baseline book was at
    -- least 5% (stress_drawdown) below its peak on the event's rebalance date
    select
        scaled_run_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as derisk_events,
        cast(sum(case when baseline_drawdown <= {{ t.stress_drawdown }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as events_in_stress,
    from derisk_events
    group by scaled_run_id

),

control_measures as (

    -- timing skill: the governor against the two controls at its own vol,
    -- (b) and (c); a control beaten on both MaxDD and Sharpe counts
    select
        scaled_run_id,
        max(case when book = 'vol_matched' then max_drawdown end) as vol_matched_max_drawdown,
        max(case when book = 'vol_matched' then sharpe end) as vol_matched_sharpe,
        max(case when book = 'vol_target' then max_drawdown end) as vol_target_max_drawdown,
        max(case when book = 'vol_target' then sharpe end) as vol_target_sharpe,
        -- null when a control (or the governor) is not measurable
        case
            when count(*) = 2 and bool_and(governor_beats_max_drawdown is not null and governor_beats_sharpe is not null)
                then cast(sum(case when governor_beats_max_drawdown and governor_beats_sharpe then 1 else 0 end) as {{ dbt.type_bigint() }})
        end as controls_beaten,
        case
            when bool_or(book = 'vol_matched' and governor_beats_max_drawdown and governor_beats_sharpe) then 'vol-matched constant (b)'
            when bool_or(book = 'vol_target' and governor_beats_max_drawdown and governor_beats_sharpe) then 'vol target (c)'
        end as beaten_control,
    from controls
    where book in ('vol_matched', 'vol_target')
    group by scaled_run_id

),

final as (

    -- baseline_max_drawdown is the baseline's run_metrics MaxDD
    -- (two_pass_metrics); two_pass_allocator_usage's column of that name
    -- measures the same book and is left out
    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        pairs.is_like_for_like,
        pairs.strategy_profile,
        pairs.baseline_strategy_profile,
        pairs.start_date,
        pairs.end_date,
        pairs.baseline_start_date,
        pairs.baseline_end_date,
        {%- for metric in allocator.two_pass_metric_list() %}
        metric_deltas.baseline_{{ metric.metric }},
        metric_deltas.scaled_{{ metric.metric }},
        metric_deltas.delta_{{ metric.metric }},
        {%- endfor %}
        usage.rebalances_total,
        usage.rebalances_scaled,
        usage.pct_scaled,
        usage.transitions_per_year,
        usage.baseline_worst_dd_peak_date,
        usage.baseline_worst_dd_trough_date,
        usage.worst_dd_rebalances,
        usage.worst_dd_rebalances_scaled,
        usage.worst_dd_scalar_min,
        coalesce(event_alignment.derisk_events, 0) as derisk_events,
        coalesce(event_alignment.events_in_stress, 0) as events_in_stress,
        control_measures.vol_matched_max_drawdown,
        control_measures.vol_matched_sharpe,
        control_measures.vol_target_max_drawdown,
        control_measures.vol_target_sharpe,
        control_measures.controls_beaten,
        control_measures.beaten_control,
        false_alarms.months_total,
        false_alarms.months_with_alarm,
        false_alarms.alarm_month_share,
        false_alarms.alarm_spells,
        false_alarms.false_alarm_spells,
        false_alarms.false_alarm_share,
        false_alarms.longest_spell_sessions,
        false_alarms.longest_spell_start_date,
        false_alarms.longest_spell_end_date,
        derisked_days.sessions_total,
        derisked_days.sessions_derisked,
        cast(derisked_days.sessions_derisked as {{ dbt.type_float() }}) / nullif(derisked_days.sessions_total, 0) as derisked_day_share,
        -- the rules' thresholds, so a flag's sentence can quote the rule it read
        {%- for name, value in t.items() %}
        cast({{ value }} as {{ dbt.type_float() }}) as threshold_{{ name }},
        {%- endfor %}
    from pairs
    inner join metric_deltas
        on pairs.scaled_run_id = metric_deltas.scaled_run_id
    inner join usage
        on pairs.scaled_run_id = usage.scaled_run_id
    left join event_alignment
        on pairs.scaled_run_id = event_alignment.scaled_run_id
    left join control_measures
        on pairs.scaled_run_id = control_measures.scaled_run_id
    left join false_alarms
        on pairs.scaled_run_id = false_alarms.scaled_run_id
    left join derisked_days
        on pairs.scaled_run_id = derisked_days.scaled_run_id

)

select * from final
