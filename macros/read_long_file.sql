{#-
    Table expression that reads a long-format file named at run time (a file
    checked by `dbt run-operation check_input_file`). Run inputs are sources; see
    models/staging/_staging__sources.yml. CSV is read as text so staging, not
    the reader, decides what is malformed and can name the offending row.
-#}
{% macro read_long_file(path) -%}
    {%- if path.lower().endswith('.parquet') -%}
        read_parquet({{ allocator.sql_literal(path) }})
    {%- else -%}
        read_csv({{ allocator.sql_literal(path) }}, all_varchar = true, header = true)
    {%- endif -%}
{%- endmacro %}


{#- Input dates arrive as text (CSV) or typed (Parquet); accept both, and a
    timestamp at midnight. -#}
{% macro parse_date_text(column) -%}
    coalesce(
        {{ dbt.safe_cast(column, 'date') }},
        cast({{ dbt.safe_cast(column, dbt.type_timestamp()) }} as date)
    )
{%- endmacro %}


{#- Column names of a relation, lower-cased; empty while dbt parses. -#}
{% macro relation_columns(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(run_query("select * from " ~ relation ~ " where 1 = 0").column_names | map('lower') | list) }}
{%- endmacro %}
