{#- The one way untrusted text (a var, a path, a run id) reaches SQL: as a
    string literal. python/allocator/run_config.py's sql_literal is its twin
    for SQL built in Python. -#}
{% macro sql_literal(value) -%}
    {{ return(adapter.dispatch('sql_literal', 'allocator')(value)) }}
{%- endmacro %}


{#- DuckDB: the quotes doubled; a backslash is an ordinary character. -#}
{% macro duckdb__sql_literal(value) -%}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}


{#- Spark SQL: a backslash escapes the next character and two quotes in a
    row are two adjacent literals ('a''b' is 'ab'), so the backslash is
    escaped first, then the quote. -#}
{% macro spark__sql_literal(value) -%}
    {{ return("'" ~ (value | string | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") }}
{%- endmacro %}
