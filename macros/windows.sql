{#- Window frames used across models, so every rolling feature counts the
    same observations the same way. -#}

{#- The last n observations, today included. -#}
{% macro trailing_rows(n) -%}
    rows between {{ n | int - 1 }} preceding and current row
{%- endmacro %}

{#- Annualisation of daily volatility (252 sessions a year, empyrical). -#}
{#- Sample standard deviation (ddof 1) over a window, annualised with
    sqrt(252) as empyrical does. -#}
{% macro annualised_vol(daily_return_expression, window_spec) -%}
    stddev_samp({{ daily_return_expression }}) over ({{ window_spec }}) * sqrt(252)
{%- endmacro %}
