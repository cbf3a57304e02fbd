{#- The one way untrusted text (a var, a path, a run id) reaches SQL: as a
    string literal with its quotes doubled. python/allocator/run_config.py's
    sql_literal is its twin for SQL built in Python. -#}
{% macro sql_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- The run vars as given, JSON text in a SQL literal, for the resolver. Only
    vars that are set are passed: python/allocator/run_config.py owns the
    defaults (bar the input files', which dbt merges from dbt_project.yml). -#}
{% macro run_vars_literal() -%}
    {%- set names = [
        'run_id', 'strategy_profile', 'start', 'end', 'allocator_v1',
        'prices_path', 'benchmark_path', 'weights_path', 'portfolio_returns_path',
        'correlation_exact_max_symbols', 'allocator_regime_min_days',
        'allocator_risk_ewma_alpha', 'allocator_risk_scalar_floor',
        'allocator_risk_scalar_cap', 'reuse_baseline_layers', 'replace_run',
        'publish_run', 'governor_config', 'live', 'live_update',
    ] -%}
    {%- set given = {} -%}
    {%- for name in names -%}
        {%- do given.update({name: var(name, none)}) -%}
    {%- endfor -%}
    {{ allocator.sql_literal(tojson(given, sort_keys=true)) }}
{%- endmacro %}
