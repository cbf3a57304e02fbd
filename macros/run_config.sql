{#-
    The run's configuration is resolved and validated in one place,
    python/allocator/run_config.py, by the gate model stg_run_config; models
    read their settings from its row. The one thing a model's SQL shape
    depends on is which book the run has, known from the input vars.
-#}

{#- 'weights_file', 'returns_file' or 'strategy' (built-in sleeves): the
    resolver's portfolio_source, derived from the same two vars (it refuses
    a run that sets both). -#}
{% macro portfolio_source() -%}
    {%- if var('weights_path', '') -%}
        {{ return('weights_file') }}
    {%- elif var('portfolio_returns_path', '') -%}
        {{ return('returns_file') }}
    {%- endif -%}
    {{ return('strategy') }}
{%- endmacro %}
