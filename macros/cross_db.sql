{#- DuckDB implementations of cross-database helpers. Other adapters fall back
    to dbt's defaults or to the default__ versions here. -#}

{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}


{#- Order-independent fingerprint of a set of rows: identical data gives an
    identical value whatever order the file lists it in. -#}
{% macro fingerprint_rows(columns) -%}
    {{ return(adapter.dispatch('fingerprint_rows', 'allocator')(columns)) }}
{%- endmacro %}

{% macro duckdb__fingerprint_rows(columns) -%}
    md5(
        cast(count(*) as varchar) || '|'
        || cast(sum(hash({{ columns | join(', ') }}) % 1000000007) as varchar) || '|'
        || cast(bit_xor(hash({{ columns | join(', ') }})) as varchar)
    )
{%- endmacro %}

{% macro default__fingerprint_rows(columns) -%}
    md5(cast(count(*) as {{ dbt.type_string() }}))
{%- endmacro %}


{#- Does a file exist? Used to fail with a message naming the file before the
    reader fails with a less helpful one. -#}
{% macro file_exists(path) -%}
    {{ return(adapter.dispatch('file_exists', 'allocator')(path)) }}
{%- endmacro %}

{% macro duckdb__file_exists(path) -%}
    {%- set result = run_query("select count(*) from glob('" ~ path ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}


{#- dbt's default float type is FLOAT, which DuckDB stores in 4 bytes; prices,
    weights and returns need 8. -#}
{% macro duckdb__type_float() -%}
    double
{%- endmacro %}
