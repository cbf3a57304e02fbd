{#- The one way untrusted text (a var, a path, a run id) reaches SQL: as a
    string literal with its quotes doubled. python/allocator/run_config.py's
    sql_literal is its twin for SQL built in Python. -#}
{% macro sql_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
