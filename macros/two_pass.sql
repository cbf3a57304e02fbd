{#- Shared definitions of the two-pass audit marts (models/marts/two_pass_*). -#}

{#- The compared performance metrics: run_metrics column, display label (the
    seeds' comparison table), unit (pct = a fraction shown as a percentage,
    ratio = shown as is) and display order. -#}
{% macro two_pass_metric_list() -%}
    {{ return([
        {'metric': 'cagr', 'label': 'CAGR', 'unit': 'pct'},
        {'metric': 'ann_vol', 'label': 'Ann Vol', 'unit': 'pct'},
        {'metric': 'sharpe', 'label': 'Sharpe', 'unit': 'ratio'},
        {'metric': 'max_drawdown', 'label': 'MaxDD', 'unit': 'pct'},
        {'metric': 'worst_month', 'label': 'Worst Month', 'unit': 'pct'},
        {'metric': 'worst_quarter', 'label': 'Worst Quarter', 'unit': 'pct'},
    ]) }}
{%- endmacro %}


{#- Thresholds of the interpretation flags, from the seeds' Interpretation
    Guidelines (documented per flag in models/marts/_marts__models.yml). -#}
{% macro two_pass_flag_thresholds() -%}
    {{ return({
        'maxdd_good_reduction': 0.02,
        'sharpe_warning_drop': 0.2,
        'transitions_good_below': 20,
        'transitions_failure_above': 50,
        'scaled_share_warning_above': 0.5,
        'stress_drawdown': -0.05,
        'aligned_share_good': 0.5,
        'longest_spell_warning_above': 252,
        'longest_spell_failure_above': 504,
        'months_flagged_warning_above': 0.35,
        'derisked_days_warning_above': 0.5,
        'false_alarm_warning_above': 0.5,
    }) }}
{%- endmacro %}


{#- One run's rows in date order: the window of every sequential regime
    statistic (islands, previous regime). -#}
{% macro two_pass_run_sequence(order_column='date', partition_columns=['scaled_run_id']) -%}
    partition by {{ partition_columns | join(', ') }} order by {{ order_column }}
{%- endmacro %}


{#- Episode timing and false alarms (two_pass_drawdown_episodes,
    two_pass_false_alarms), as the governor study defines them: an alarm is a
    day in STRESS or CRISIS (regime_level of seeds/allocator_regime_scalars
    at or above STRESS's); an alarm is followed by a drawdown when the
    baseline's drawdown reaches two_pass_flag_thresholds().stress_drawdown
    within `alarm_horizon_sessions` sessions from its first day (that day
    included); `episodes` deepest baseline drawdowns are timed. -#}
{% macro two_pass_alarm_settings() -%}
    {{ return({
        'alarm_regime_level': 2,
        'alarm_horizon_sessions': 40,
        'episodes': 5,
    }) }}
{%- endmacro %}
