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


{#- A number as text for the flag details, e.g. -12.10% or +0.06. -#}
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
    {%- else -%}
        printf('%{{ sign }}.2f', {{ expression }})
    {%- endif -%}
{%- endmacro %}




{#- Is a rebalance scaled, i.e. its scalar below 1? Below 1 by more than
    floating-point noise: the EWMA of a target of 1.0 settles at
    0.9999999999999998 (1 - 2^-52) instead of reaching 1.0, which cuts no
    exposure and must not count as de-risking. -#}
{% macro two_pass_is_scaled(scalar_expression) -%}
    ({{ scalar_expression }} < 1 - 1e-9)
{%- endmacro %}
