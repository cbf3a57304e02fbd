{#-
    Interpretation flags of every paired scaled run, from the seeds'
    Interpretation Guidelines: one row per (scaled run, flag) with status
    good, warning or failure, the measured value and a sentence saying why.
    Each rule picks a status and an outcome; the sentence is the outcome's
    template in seeds/two_pass_flag_texts.csv filled with the run's figures.
    Thresholds come from allocator.two_pass_flag_thresholds() and each rule is
    documented in _marts__models.yml.
-#}
{%- set t = allocator.two_pass_flag_thresholds() -%}
{%- set figures = allocator.two_pass_flag_figures() -%}

with measures as (

    select * from {{ ref('two_pass_flag_measures') }}

),

texts as (

    select * from {{ ref('two_pass_flag_texts') }}

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
        case
            when transitions_per_year is null then 'warning'
            when transitions_per_year > {{ t.transitions_failure_above }} then 'failure'
            when transitions_per_year >= {{ t.transitions_good_below }} then 'warning'
            else 'good'
        end as status,
        transitions_per_year as measured_value,
        case
            when transitions_per_year > {{ t.transitions_failure_above }} then 'thrashing'
            when transitions_per_year >= {{ t.transitions_good_below }} then 'not_sticky'
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

),

run_figures as (

    select
        scaled_run_id,
        {%- for name, expression in figures.items() %}
        {{ expression }} as {{ name }},
        {%- endfor %}
    from measures

),

not_measurable as (

    select template from texts
    where flag = '*' and outcome = 'not_measurable'

),

filled as (

    select
        all_flags.scaled_run_id,
        all_flags.flag_order,
        all_flags.flag,
        all_flags.status,
        all_flags.measured_value,
        texts.template,
        {{ allocator.two_pass_fill_template('texts.template', figures.keys() | list, 'run_figures') }} as detail,
    from all_flags
    inner join run_figures
        on all_flags.scaled_run_id = run_figures.scaled_run_id
    left join texts
        on all_flags.flag = texts.flag
        and all_flags.outcome = texts.outcome

),

final as (

    select
        filled.scaled_run_id,
        filled.flag_order,
        filled.flag,
        filled.status,
        filled.measured_value,
        -- a figure the sentence names is missing: say so instead; an outcome
        -- without a template stays null and fails the not-null constraint
        case
            when filled.template is not null then coalesce(filled.detail, not_measurable.template)
        end as detail,
    from filled
    left join not_measurable
        on true

)

select * from final
