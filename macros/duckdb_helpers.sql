{#- DuckDB versions of dbt's own cross-database macros (dbt dispatches to
    them by name), and small helpers written in DuckDB SQL. -#}

{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}


{#- Order-independent fingerprint of a relation's rows, whatever its
    columns: identical data gives an identical value whatever order the file
    lists it in. `alias` is the relation's alias in the from clause (DuckDB
    hashes the whole row). -#}
{% macro fingerprint_rows(alias) -%}
    {{ return(adapter.dispatch('fingerprint_rows', 'allocator')(alias)) }}
{%- endmacro %}


{% macro duckdb__fingerprint_rows(alias) -%}
    md5(
        cast(count(*) as varchar) || '|'
        || cast(coalesce(sum(hash({{ alias }}) % 1000000007), 0) as varchar) || '|'
        || cast(coalesce(bit_xor(hash({{ alias }})), 0) as varchar)
    )
{%- endmacro %}


{#- Does exactly this file exist? The path is quoted, and a path with glob
    characters is not a file name (DuckDB would expand it), so it does not. -#}
{% macro file_exists(path) -%}
    {%- if path is none or (path | string) == '' or modules.re.search('[*?\\[\\]{}]', path | string) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(adapter.dispatch('file_exists', 'allocator')(path)) }}
{%- endmacro %}


{% macro duckdb__file_exists(path) -%}
    {%- set result = run_query("select count(*) from glob(" ~ allocator.sql_literal(path) ~ ")") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}


{#- dbt's default float type is FLOAT, which DuckDB stores in 4 bytes; prices,
    weights and returns need 8. -#}
{% macro duckdb__type_float() -%}
    double
{%- endmacro %}
