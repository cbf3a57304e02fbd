{#-
    Interpretation flags of every paired scaled run, from the seeds'
    Interpretation Guidelines and behaviour targets: one row per (scaled run,
    flag) with a status (good, warning or failure), the number the rule
    judged and an outcome naming the reading. The figures are
    two_pass_flag_measures'; the sentence of each outcome is the report
    layer's (python/allocator/flag_texts.py fills
    python/allocator/templates/two_pass_flag_texts.csv with those figures).
    Thresholds come from allocator.two_pass_flag_thresholds() and each rule is
    documented in _marts__models.yml.
-#}
{%- set t = allocator.two_pass_flag_thresholds() -%}

with measures as (

    select * from {{ ref('two_pass_flag_measures') }}

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
        case
            when delta_max_drawdown < 0 then 'deeper'
            when delta_max_drawdown < {{ t.maxdd_good_reduction }} then 'reduced_little'
            else 'reduced'
        end as outcome,
    from measures

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
        case
            when delta_worst_month > 0 and delta_worst_quarter > 0 then 'both_improved'
            else 'not_both_improved'
        end as outcome,
    from measures

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
        case
            when delta_sharpe < -{{ t.sharpe_warning_drop }} then 'degraded'
            else 'preserved'
        end as outcome,
    from measures

),

regime_transitions as (

    select
        scaled_run_id,
        4 as flag_order,
        'regime_transitions' as flag,
        -- few changes a year read as sticky only when the regime is not
        -- stuck: a decade in one STRESS spell makes almost no transitions
        case
            when transitions_per_year is null then 'warning'
            when transitions_per_year > {{ t.transitions_failure_above }} then 'failure'
            when transitions_per_year >= {{ t.transitions_good_below }} then 'warning'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'warning'
            else 'good'
        end as status,
        transitions_per_year as measured_value,
        case
            when transitions_per_year > {{ t.transitions_failure_above }} then 'thrashing'
            when transitions_per_year >= {{ t.transitions_good_below }} then 'not_sticky'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'stuck'
            else 'sticky'
        end as outcome,
    from measures

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
        case
            when pct_scaled > {{ t.scaled_share_warning_above }} then 'mostly_scaled'
            else 'mostly_unscaled'
        end as outcome,
    from measures

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
        case
            when baseline_max_drawdown >= 0 then 'no_drawdown'
            when worst_dd_rebalances = 0 then 'no_rebalance'
            when worst_dd_rebalances_scaled = 0 then 'not_derisked'
            else 'derisked'
        end as outcome,
    from measures

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
            when derisk_events = 0 then 'never_derisked'
            else 'events'
        end as outcome,
    from measures

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
        case
            when delta_ann_vol < 0 then 'vol_reduced'
            when delta_cagr > 0 then 'return_enhancer'
            else 'no_risk_reduction'
        end as outcome,
    from measures

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
            when strategy_profile <> baseline_strategy_profile then 'profile_differs'
            when start_date <> baseline_start_date or end_date <> baseline_end_date then 'window_differs'
            when not coalesce(is_like_for_like, false) then 'input_data_differ'
            else 'same_book'
        end as outcome,
    from measures

),

timing_skill as (

    -- a leverage cut at the same vol, constant (b) or vol-targeted (c), is
    -- the bar: a governor that does not beat it on both MaxDD and Sharpe
    -- shows no timing skill
    select
        scaled_run_id,
        10 as flag_order,
        'timing_skill' as flag,
        {{ allocator.timing_skill_status('controls_beaten') }} as status,
        cast(controls_beaten as {{ dbt.type_float() }}) as measured_value,
        case
            when controls_beaten = 2 then 'beats_both'
            when controls_beaten = 1 then 'beats_one'
            else 'beats_neither'
        end as outcome,
    from measures

),

longest_alarm_spell as (

    -- a governor stuck de-risked: the seeds' targets put about 10% of days
    -- in STRESS or CRISIS (8% + 2%), about a year in a decade, so one spell
    -- longer than a year spends a decade's share at once; two years is the
    -- protocol's limit (docs/governor_protocol.md)
    select
        scaled_run_id,
        11 as flag_order,
        'longest_alarm_spell' as flag,
        case
            when longest_spell_sessions is null then 'warning'
            when longest_spell_sessions > {{ t.longest_spell_failure_above }} then 'failure'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'warning'
            else 'good'
        end as status,
        cast(longest_spell_sessions as {{ dbt.type_float() }}) as measured_value,
        case
            when longest_spell_sessions = 0 then 'no_spell'
            when longest_spell_sessions > {{ t.longest_spell_failure_above }} then 'stuck'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'long'
            else 'short'
        end as outcome,
    from measures

),

months_flagged as (

    -- how often the audit would cry wolf: the share of months with a
    -- STRESS/CRISIS day (about a fifth on the demo's calibration targets)
    select
        scaled_run_id,
        12 as flag_order,
        'months_flagged' as flag,
        case
            when alarm_month_share is null or alarm_month_share > {{ t.months_flagged_warning_above }} then 'warning'
            else 'good'
        end as status,
        alarm_month_share as measured_value,
        case
            when alarm_month_share > {{ t.months_flagged_warning_above }} then 'often'
            else 'seldom'
        end as outcome,
    from measures

),

derisked_days as (

    -- the seeds' "scalar constantly below 1.0": sessions, not rebalances,
    -- since a daily cadence moves the scalar between rebalances
    select
        scaled_run_id,
        13 as flag_order,
        'derisked_days' as flag,
        case
            when derisked_day_share is null or derisked_day_share > {{ t.derisked_days_warning_above }} then 'warning'
            else 'good'
        end as status,
        derisked_day_share as measured_value,
        case
            when derisked_day_share > {{ t.derisked_days_warning_above }} then 'mostly_derisked'
            else 'mostly_whole'
        end as outcome,
    from measures

),

false_alarms as (

    -- spells not followed by a baseline drawdown of 5% within 40 sessions;
    -- none being false means nothing when one spell held for years
    select
        scaled_run_id,
        14 as flag_order,
        'false_alarms' as flag,
        case
            when alarm_spells is null or alarm_spells = 0 then 'good'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'warning'
            when false_alarm_share > {{ t.false_alarm_warning_above }} then 'warning'
            else 'good'
        end as status,
        false_alarm_share as measured_value,
        case
            when alarm_spells is null or alarm_spells = 0 then 'no_alarm'
            when longest_spell_sessions > {{ t.longest_spell_warning_above }} then 'stuck'
            when false_alarm_share > {{ t.false_alarm_warning_above }} then 'mostly_false'
            else 'mostly_justified'
        end as outcome,
    from measures

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
    union all
    select * from timing_skill
    union all
    select * from longest_alarm_spell
    union all
    select * from months_flagged
    union all
    select * from derisked_days
    union all
    select * from false_alarms

),

final as (

    select
        scaled_run_id,
        flag_order,
        flag,
        status,
        outcome,
        measured_value,
    from all_flags

)

select * from final
