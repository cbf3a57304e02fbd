{#- The risk-free rate Sharpe and Sortino are measured against, checked by
    the gate (python/allocator/run_config.py): var risk_free_rate, an annual
    rate (default 0), or var risk_free_path, a file of annual rates (date,
    rate) each holding until the next; dates before the file's first take
    its first rate. Read as given (macros/run_vars.sql given_vars: never
    rendered); both default to off, and dbt's unit tests, which compile
    these models without the graph run_var reads the defaults from, need no
    more. -#}
{% macro risk_free_rate() -%}
    {{ return((allocator.given_vars().get('risk_free_rate') or 0) | float) }}
{%- endmacro %}


{% macro risk_free_path() -%}
    {{ return(allocator.given_vars().get('risk_free_path') or '') }}
{%- endmacro %}


{#- `relation`'s rows with risk_free_return, the day's rate: (1 + annual
    rate) ^ (1 / sessions a year) - 1, as quantstats turns an annual rf
    into a per-period one. rates_relation: stg_run__risk_free_rates. A zero
    rate gives 0.0, so the metrics are those of a zero rate bit for bit. -#}
{% macro with_risk_free_return(relation, rates_relation, date_column='date') -%}
    {%- if allocator.risk_free_path() -%}
    select
        daily.*,
        power(1 + coalesce(
            (select rates.annual_rate from {{ rates_relation }} as rates
             where rates.date <= daily.{{ date_column }} order by rates.date desc limit 1),
            (select rates.annual_rate from {{ rates_relation }} as rates order by rates.date limit 1)
        ), 1.0 / {{ allocator.sessions_per_year() }}) - 1 as risk_free_return,
    from {{ relation }} as daily
    {%- else -%}
    select
        daily.*,
        power(1 + {{ allocator.risk_free_rate() }}, 1.0 / {{ allocator.sessions_per_year() }}) - 1 as risk_free_return,
    from {{ relation }} as daily
    {%- endif -%}
{%- endmacro %}
