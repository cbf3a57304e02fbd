{#-
    Post-hook of the incremental dbt Python models. On a rebuild, dbt-duckdb
    (1.11) writes a Python model's new rows to a `<model>__dbt_tmp<timestamp>`
    table that it treats as temporary but creates as a real one, and never
    drops: every rebuild of a run would leave one behind in the schema users
    and BI tools browse. This drops them once the rows are merged.
-#}
{% macro drop_leftover_temp_tables() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set leftovers = run_query(
        "select table_name from information_schema.tables"
        ~ " where table_schema = '" ~ this.schema ~ "'"
        ~ " and table_name like '" ~ this.identifier ~ "\\_\\_dbt\\_tmp%' escape '\\'"
    ).columns[0].values() -%}
    {%- set statements = [] -%}
    {%- for name in leftovers -%}
        {%- do statements.append('drop table if exists ' ~ this.incorporate(path={'identifier': name})) -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
