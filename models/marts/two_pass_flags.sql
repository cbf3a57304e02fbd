{#-
    Interpretation flags of every paired scaled run, from the seeds'
    Interpretation Guidelines: one row per (scaled run, flag) with status
    good, warning or failure, the measured value and a sentence saying why.
    Thresholds come from allocator.two_pass_flag_thresholds() and each rule is
    documented in _marts__models.yml.
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

inputs as (

    select
        pairs.scaled_run_id,
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
        usage.pct_scaled,
        usage.rebalances_total,
        usage.rebalances_scaled,
        usage.transitions_per_year,
        usage.baseline_max_drawdown,
        usage.baseline_worst_dd_peak_date,
        usage.baseline_worst_dd_trough_date,
        usage.worst_dd_rebalances,
        usage.worst_dd_rebalances_scaled,
        usage.worst_dd_scalar_min,
        coalesce(event_alignment.derisk_events, 0) as derisk_events,
        coalesce(event_alignment.events_in_stress, 0) as events_in_stress,
    from pairs
    inner join metric_deltas
        on pairs.scaled_run_id = metric_deltas.scaled_run_id
    inner join usage
        on pairs.scaled_run_id = usage.scaled_run_id
    left join event_alignment
        on pairs.scaled_run_id = event_alignment.scaled_run_id

),

maxdd_vs_baseline as (

    select
        scaled_run_id,
        1 as flag_order,
        'maxdd_vs_baseline' as flag,
        case
            when delta_max_drawdown is null then 'warning'
            when delta_max_drawdown < 0 then 'failure'
            when delta_max_drawdown < {{ t.maxdd_good_reduction }} then 'warning'
            else 'good'
        end as status,
        delta_max_drawdown as measured_value,
        'MaxDD ' || {{ allocator.two_pass_format('scaled_max_drawdown') }}
            || ' scaled vs ' || {{ allocator.two_pass_format('baseline_max_drawdown') }}
            || ' baseline (' || {{ allocator.two_pass_format('delta_max_drawdown', 'pp', true) }} || ')'
            || case
                when delta_max_drawdown < 0 then ': deeper than the baseline, the allocator is counterproductive'
                when delta_max_drawdown < {{ t.maxdd_good_reduction }} then ': reduced by less than {{ t.maxdd_good_reduction * 100 }} pp, little protection'
                else ': the allocator acts as a risk governor'
            end as detail,
    from inputs

),

tail_months_quarters as (

    select
        scaled_run_id,
        2 as flag_order,
        'worst_month_quarter' as flag,
        case
            when delta_worst_month > 0 and delta_worst_quarter > 0 then 'good'
            else 'warning'
        end as status,
        least(delta_worst_month, delta_worst_quarter) as measured_value,
        'worst month ' || {{ allocator.two_pass_format('delta_worst_month', 'pp', true) }}
            || ', worst quarter ' || {{ allocator.two_pass_format('delta_worst_quarter', 'pp', true) }}
            || case
                when delta_worst_month > 0 and delta_worst_quarter > 0 then ': both improved'
                else ': not both improved'
            end as detail,
    from inputs

),

sharpe_change as (

    select
        scaled_run_id,
        3 as flag_order,
        'sharpe_change' as flag,
        case
            when delta_sharpe is null or delta_sharpe < -{{ t.sharpe_warning_drop }} then 'warning'
            else 'good'
        end as status,
        delta_sharpe as measured_value,
        'Sharpe ' || {{ allocator.two_pass_format('scaled_sharpe', 'ratio') }}
            || ' scaled vs ' || {{ allocator.two_pass_format('baseline_sharpe', 'ratio') }}
            || ' baseline (' || {{ allocator.two_pass_format('delta_sharpe', 'ratio', true) }} || ')'
            || case
                when delta_sharpe < -{{ t.sharpe_warning_drop }} then ': degraded by more than {{ t.sharpe_warning_drop }}'
                else ': preserved or improved'
            end as detail,
    from inputs

),

regime_transitions as (

    select
        scaled_run_id,
        4 as flag_order,
        'regime_transitions' as flag,
        case
            when transitions_per_year is null then 'warning'
            when transitions_per_year > {{ t.transitions_failure_above }} then 'failure'
            when transitions_per_year >= {{ t.transitions_good_below }} then 'warning'
            else 'good'
        end as status,
        transitions_per_year as measured_value,
        {{ allocator.two_pass_format('transitions_per_year', 'ratio') }} || ' regime transitions per year'
            || case
                when transitions_per_year > {{ t.transitions_failure_above }} then ': thrashing (more than {{ t.transitions_failure_above }} a year)'
                when transitions_per_year >= {{ t.transitions_good_below }} then ': not sticky ({{ t.transitions_good_below }} or more a year)'
                else ': sticky (fewer than {{ t.transitions_good_below }} a year)'
            end as detail,
    from inputs

),

scalar_below_one as (

    select
        scaled_run_id,
        5 as flag_order,
        'scalar_below_one_share' as flag,
        case
            when pct_scaled is null or pct_scaled > {{ t.scaled_share_warning_above }} then 'warning'
            else 'good'
        end as status,
        pct_scaled as measured_value,
        {{ allocator.two_pass_format('rebalances_scaled', 'count') }} || ' of '
            || {{ allocator.two_pass_format('rebalances_total', 'count') }} || ' rebalances scaled ('
            || {{ allocator.two_pass_format('pct_scaled', 'share') }} || ')'
            || case
                when pct_scaled > {{ t.scaled_share_warning_above }} then ': scalar below 1 most of the time, the allocator is too aggressive'
                else ': scalar at 1.0 most of the time, de-risking only in stress'
            end as detail,
    from inputs

),

derisk_in_worst_drawdown as (

    select
        scaled_run_id,
        6 as flag_order,
        'derisk_in_worst_drawdown' as flag,
        case
            when baseline_max_drawdown is null or baseline_max_drawdown >= 0 or worst_dd_rebalances = 0 then 'warning'
            when worst_dd_rebalances_scaled = 0 then 'failure'
            else 'good'
        end as status,
        cast(worst_dd_rebalances_scaled as {{ dbt.type_float() }}) as measured_value,
        'baseline worst drawdown ' || {{ allocator.two_pass_format('baseline_max_drawdown') }}
            || ' from ' || cast(baseline_worst_dd_peak_date as {{ dbt.type_string() }})
            || ' to ' || cast(baseline_worst_dd_trough_date as {{ dbt.type_string() }}) || ': '
            || case
                when baseline_max_drawdown >= 0 then 'the baseline never drew down, nothing to check'
                when worst_dd_rebalances = 0 then 'no rebalance inside the episode, the allocator could not act'
                when worst_dd_rebalances_scaled = 0 then 'no de-risking in any of its '
                    || {{ allocator.two_pass_format('worst_dd_rebalances', 'count') }} || ' rebalances'
                else {{ allocator.two_pass_format('worst_dd_rebalances_scaled', 'count') }} || ' of '
                    || {{ allocator.two_pass_format('worst_dd_rebalances', 'count') }}
                    || ' rebalances de-risked (min scalar ' || {{ allocator.two_pass_format('worst_dd_scalar_min', 'ratio') }} || ')'
            end as detail,
    from inputs

),

derisk_alignment as (

    select
        scaled_run_id,
        7 as flag_order,
        'derisk_events_in_stress' as flag,
        case
            when derisk_events = 0 then 'warning'
            when cast(events_in_stress as {{ dbt.type_float() }}) / derisk_events >= {{ t.aligned_share_good }} then 'good'
            else 'warning'
        end as status,
        cast(events_in_stress as {{ dbt.type_float() }}) / nullif(derisk_events, 0) as measured_value,
        case
            when derisk_events = 0 then 'the allocator never de-risked'
            else {{ allocator.two_pass_format('events_in_stress', 'count') }} || ' of the top '
                || {{ allocator.two_pass_format('derisk_events', 'count') }}
                || ' de-risk events came with the baseline at least {{ -t.stress_drawdown * 100 }}% below its peak'
        end as detail,
    from inputs

),

like_for_like as (

    -- every other flag reads a difference as the allocator's doing: that
    -- holds only when both runs priced the same book from the same data
    select
        scaled_run_id,
        9 as flag_order,
        'like_for_like' as flag,
        case
            when not coalesce(is_like_for_like, false) then 'failure'
            else 'good'
        end as status,
        cast(null as {{ dbt.type_float() }}) as measured_value,
        case
            when strategy_profile <> baseline_strategy_profile
                then 'strategy profile ' || strategy_profile || ' scaled vs ' || baseline_strategy_profile
                    || ' baseline: the differences are not the allocator''s alone'
            when start_date <> baseline_start_date or end_date <> baseline_end_date
                then 'window ' || cast(start_date as {{ dbt.type_string() }}) || ' to ' || cast(end_date as {{ dbt.type_string() }})
                    || ' scaled vs ' || cast(baseline_start_date as {{ dbt.type_string() }}) || ' to '
                    || cast(baseline_end_date as {{ dbt.type_string() }})
                    || ' baseline: the differences are not the allocator''s alone'
            when not coalesce(is_like_for_like, false)
                then 'input data differ (runs.input_fingerprint): the differences are not the allocator''s alone'
            else 'same profile, window and input data: the differences are the allocator''s'
        end as detail,
    from inputs

),

risk_governor as (

    select
        scaled_run_id,
        8 as flag_order,
        'risk_governor' as flag,
        case
            when delta_ann_vol < 0 then 'good'
            when delta_cagr > 0 and delta_ann_vol >= 0 then 'failure'
            else 'warning'
        end as status,
        delta_ann_vol as measured_value,
        'Ann Vol ' || {{ allocator.two_pass_format('delta_ann_vol', 'pp', true) }}
            || ', CAGR ' || {{ allocator.two_pass_format('delta_cagr', 'pp', true) }}
            || case
                when delta_ann_vol < 0 then ': volatility reduced, a risk governor'
                when delta_cagr > 0 then ': more return without less risk, a return enhancer'
                else ': no risk reduction'
            end as detail,
    from inputs

),

all_flags as (

    select * from maxdd_vs_baseline
    union all
    select * from tail_months_quarters
    union all
    select * from sharpe_change
    union all
    select * from regime_transitions
    union all
    select * from scalar_below_one
    union all
    select * from derisk_in_worst_drawdown
    union all
    select * from derisk_alignment
    union all
    select * from risk_governor
    union all
    select * from like_for_like

),

final as (

    select
        scaled_run_id,
        flag_order,
        flag,
        status,
        measured_value,
        -- text built from a missing metric is null: say so instead
        coalesce(detail, 'not measurable: an input metric is missing') as detail,
    from all_flags

)

select * from final
