{#- Window frames used across models, so every rolling feature counts the
    same observations the same way. -#}

{#- The last n observations, today included; n is a number or a column of
    the run's configuration (DuckDB evaluates a frame offset per row). -#}
{% macro trailing_rows(n) -%}
    rows between {{ n }} - 1 preceding and current row
{%- endmacro %}

{#- Sessions in a year, as empyrical counts them: the one definition of the
    annualisation used by every metric, feature and count per year. -#}
{% macro sessions_per_year() -%}
    {{ return(252) }}
{%- endmacro %}

{#- Sample standard deviation (ddof 1) over a window, annualised with
    sqrt(sessions a year) as empyrical does. -#}
{% macro annualised_vol(daily_return_expression, window_spec) -%}
    stddev_samp({{ daily_return_expression }}) over ({{ window_spec }}) * sqrt({{ allocator.sessions_per_year() }})
{%- endmacro %}

{#- Everything up to today, today included: running sums, highs and counts
    (high-water marks, episode numbers). -#}
{% macro running_rows() -%}
    rows between unbounded preceding and current row
{%- endmacro %}

{#- Today and the next n - 1 observations: what followed a date, e.g. the
    sessions after an alarm in which a drawdown counts as its outcome. -#}
{% macro leading_rows(n) -%}
    rows between current row and {{ n }} - 1 following
{%- endmacro %}
