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
    }) }}
{%- endmacro %}


{#- One run's rows in date order: the window of every sequential regime
    statistic (islands, previous regime). -#}
{% macro two_pass_run_sequence(order_column='date', partition_columns=['scaled_run_id']) -%}
    partition by {{ partition_columns | join(', ') }} order by {{ order_column }}
{%- endmacro %}


{#- A figure as text for the flag details, e.g. -12.10%, +0.06 or
    2020-03-23; kind text leaves a text column as it is. -#}
{% macro two_pass_format(expression, kind='pct', signed=false) -%}
    {%- set sign = '+' if signed else '' -%}
    {%- if kind == 'pct' -%}
        printf('%{{ sign }}.2f%%', ({{ expression }}) * 100)
    {%- elif kind == 'pp' -%}
        printf('%{{ sign }}.2f pp', ({{ expression }}) * 100)
    {%- elif kind == 'share' -%}
        printf('%.1f%%', ({{ expression }}) * 100)
    {%- elif kind == 'count' -%}
        cast({{ expression }} as varchar)
    {%- elif kind == 'date' -%}
        cast({{ expression }} as {{ dbt.type_string() }})
    {%- elif kind == 'text' -%}
        {{ expression }}
    {%- else -%}
        printf('%{{ sign }}.2f', {{ expression }})
    {%- endif -%}
{%- endmacro %}


{#- The figures a sentence of seeds/two_pass_flag_texts.csv may name as
    {name}: name -> the SQL text of it, over a row of two_pass_flag_measures.
    The thresholds are figures too, so a sentence quotes the rule it reads. -#}
{% macro two_pass_flag_figures() -%}
    {%- set t = allocator.two_pass_flag_thresholds() -%}
    {{ return({
        'scaled_max_drawdown': allocator.two_pass_format('scaled_max_drawdown'),
        'baseline_max_drawdown': allocator.two_pass_format('baseline_max_drawdown'),
        'delta_max_drawdown': allocator.two_pass_format('delta_max_drawdown', 'pp', true),
        'delta_worst_month': allocator.two_pass_format('delta_worst_month', 'pp', true),
        'delta_worst_quarter': allocator.two_pass_format('delta_worst_quarter', 'pp', true),
        'scaled_sharpe': allocator.two_pass_format('scaled_sharpe', 'ratio'),
        'baseline_sharpe': allocator.two_pass_format('baseline_sharpe', 'ratio'),
        'delta_sharpe': allocator.two_pass_format('delta_sharpe', 'ratio', true),
        'delta_ann_vol': allocator.two_pass_format('delta_ann_vol', 'pp', true),
        'delta_cagr': allocator.two_pass_format('delta_cagr', 'pp', true),
        'transitions_per_year': allocator.two_pass_format('transitions_per_year', 'ratio'),
        'rebalances_scaled': allocator.two_pass_format('rebalances_scaled', 'count'),
        'rebalances_total': allocator.two_pass_format('rebalances_total', 'count'),
        'pct_scaled': allocator.two_pass_format('pct_scaled', 'share'),
        'baseline_worst_dd_peak_date': allocator.two_pass_format('baseline_worst_dd_peak_date', 'date'),
        'baseline_worst_dd_trough_date': allocator.two_pass_format('baseline_worst_dd_trough_date', 'date'),
        'worst_dd_rebalances': allocator.two_pass_format('worst_dd_rebalances', 'count'),
        'worst_dd_rebalances_scaled': allocator.two_pass_format('worst_dd_rebalances_scaled', 'count'),
        'worst_dd_scalar_min': allocator.two_pass_format('worst_dd_scalar_min', 'ratio'),
        'derisk_events': allocator.two_pass_format('derisk_events', 'count'),
        'events_in_stress': allocator.two_pass_format('events_in_stress', 'count'),
        'strategy_profile': allocator.two_pass_format('strategy_profile', 'text'),
        'baseline_strategy_profile': allocator.two_pass_format('baseline_strategy_profile', 'text'),
        'start_date': allocator.two_pass_format('start_date', 'date'),
        'end_date': allocator.two_pass_format('end_date', 'date'),
        'baseline_start_date': allocator.two_pass_format('baseline_start_date', 'date'),
        'baseline_end_date': allocator.two_pass_format('baseline_end_date', 'date'),
        'vol_matched_max_drawdown': allocator.two_pass_format('vol_matched_max_drawdown'),
        'vol_matched_sharpe': allocator.two_pass_format('vol_matched_sharpe', 'ratio'),
        'vol_target_max_drawdown': allocator.two_pass_format('vol_target_max_drawdown'),
        'vol_target_sharpe': allocator.two_pass_format('vol_target_sharpe', 'ratio'),
        'beaten_control': allocator.two_pass_format('beaten_control', 'text'),
        'maxdd_good_reduction_pp': allocator.sql_literal(t.maxdd_good_reduction * 100),
        'sharpe_warning_drop': allocator.sql_literal(t.sharpe_warning_drop),
        'transitions_good_below': allocator.sql_literal(t.transitions_good_below),
        'transitions_failure_above': allocator.sql_literal(t.transitions_failure_above),
        'stress_drawdown_pct': allocator.sql_literal(-t.stress_drawdown * 100),
    }) }}
{%- endmacro %}


{#- A sentence template filled in: each {name} of `names` replaced by the
    text column `name` of `relation`. Null when the template names a column
    that is null (as a concatenation with a missing figure is) and when the
    template itself is null. -#}
{% macro two_pass_fill_template(template, names, relation) -%}
    {%- set filled = namespace(sql=template) -%}
    {%- for name in names -%}
        {%- set filled.sql = "replace(" ~ filled.sql ~ ", '{" ~ name ~ "}', coalesce(" ~ relation ~ "." ~ name ~ ", ''))" -%}
    {%- endfor -%}
    case
        {%- for name in names %}
        when contains({{ template }}, '{{ "{" ~ name ~ "}" }}') and {{ relation }}.{{ name }} is null then null
        {%- endfor %}
        else {{ filled.sql }}
    end
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
