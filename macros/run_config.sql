{#-
    The run's configuration is resolved and validated in one place,
    python/allocator/run_config.py, by the gate model stg_run_config; models
    read their settings from its row. The one thing a model's SQL shape
    depends on is which book the run has, known from the input vars.
-#}

{#- 'weights_file', 'returns_file' or 'strategy' (built-in sleeves): the
    resolver's portfolio_source, derived from the same two vars (it refuses
    a run that sets both). Read as given, never rendered (macros/run_vars.sql). -#}
{% macro portfolio_source() -%}
    {%- if allocator.run_var('weights_path', '') -%}
        {{ return('weights_file') }}
    {%- elif allocator.run_var('portfolio_returns_path', '') -%}
        {{ return('returns_file') }}
    {%- endif -%}
    {{ return('strategy') }}
{%- endmacro %}
