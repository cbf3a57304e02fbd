{#- Seeds on Spark. dbt-spark's session cursor puts each value into the
    insert as '%s' without escaping, so a seed text with a quote (a
    rationale, a description) breaks the statement, and an empty cell
    arrives as the text 'None'. This writes each value as a literal instead:
    text through spark__sql_literal, an empty cell as null, cast to the
    seed's column type as dbt-spark does. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- set column = agate_table.column_names[loop.index0] -%}
                    {%- set type = column_override.get(column, adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ allocator.spark_seed_value(value) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}


{#- One seed cell as a Spark SQL literal. A number keeps every digit the
    CSV gave (agate reads it as a Decimal), as DuckDB's seed load does. -#}
{% macro spark_seed_value(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- elif value is sameas true or value is sameas false -%}
        {{ return(value | string | lower) }}
    {%- elif value is number -%}
        {{ return("'" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(allocator.sql_literal(value)) }}
{%- endmacro %}
