{#- What differs between the two engines the project builds on, DuckDB (the
    dev target) and Spark (the spark target, docs/spark.md), one dispatched
    macro per difference: models and hooks call these, never an engine's own
    form. -#}


{#- The relations a schema holds: {name: 'table' | 'view'}; empty when the
    schema does not exist yet. -#}
{% macro schema_relations(schema) -%}
    {{ return(adapter.dispatch('schema_relations', 'allocator')(schema)) }}
{%- endmacro %}


{% macro duckdb__schema_relations(schema) -%}
    {%- set found = {} -%}
    {%- for row in run_query("select table_name, table_type from information_schema.tables where table_schema = " ~ allocator.sql_literal(schema)).rows -%}
        {%- do found.update({row[0]: 'view' if row[1] == 'VIEW' else 'table'}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- Spark has no information_schema for its session catalog: `show tables`
    lists tables and views, `show views` the views (a missing schema is an
    error there, so it is asked first). -#}
{% macro spark__schema_relations(schema) -%}
    {%- set found = {} -%}
    {%- if not adapter.check_schema_exists(none, schema) -%}
        {{ return(found) }}
    {%- endif -%}
    {%- set views = run_query("show views in " ~ adapter.quote(schema)).columns['viewName'].values() -%}
    {%- for name in run_query("show tables in " ~ adapter.quote(schema)).columns['tableName'].values() -%}
        {%- do found.update({name: 'view' if name in views else 'table'}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- Run a start hook's statements and keep what they did: dbt runs start
    hooks in a transaction it does not commit there. -#}
{% macro run_and_commit(statements) -%}
    {{ return(adapter.dispatch('run_and_commit', 'allocator')(statements)) }}
{%- endmacro %}


{#- DuckDB: one batch, committed, and a new transaction opened for dbt to
    close. -#}
{% macro duckdb__run_and_commit(statements) -%}
    {%- do run_query(statements | join(';\n') ~ ';\ncommit;\nbegin transaction') -%}
{%- endmacro %}


{#- Spark runs one statement per call and has no transactions: each
    statement stands as soon as it ran. -#}
{% macro spark__run_and_commit(statements) -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{%- endmacro %}


{#- Spark SQL from this project's SQL, for the two DuckDB spellings the
    models use throughout. The house style ends select lists with a
    trailing comma (docs/rules.md), which Spark's parser refuses: a comma
    followed only by blanks or comments and then `from`, `where` or a
    closing bracket is never meaningful SQL, so it is dropped. And `as
    varchar` (a cast to text) is `as string`: Spark's varchar needs a
    length. String literals and comments are matched first and kept whole,
    so text inside quotes (or an apostrophe in a comment) is never changed. -#}
{% macro spark_sql(sql) -%}
    {%- set pattern = modules.re.compile(
        "('(?:[^'\\\\]|\\\\.)*'|--[^\\n]*|/\\*.*?\\*/)"
        ~ "|,((?:\\s|--[^\\n]*\\n)*)(?=from\\b|where\\b|\\))"
        ~ "|\\b(as\\s+)varchar\\b(?!\\s*\\()",
        modules.re.IGNORECASE + modules.re.DOTALL
    ) -%}
    {{ return(pattern.sub(allocator.spark_token, sql)) }}
{%- endmacro %}


{#- One match of spark_sql's pattern, as Spark SQL. -#}
{% macro spark_token(match) -%}
    {%- if match.group(1) is not none -%}
        {{ return(match.group(1)) }}
    {%- elif match.group(3) is not none -%}
        {{ return(match.group(3) ~ 'string') }}
    {%- endif -%}
    {#- a dropped comma leaves its blanks and comments -#}
    {{ return(match.group(2)) }}
{%- endmacro %}


{#- dbt-spark's table and view DDL, its contract check and the data and
    unit tests' queries, on spark_sql. -#}
{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- if language == 'sql' -%}
        {%- set compiled_code = allocator.spark_sql(compiled_code) -%}
    {%- endif -%}
    {{ return(dbt.spark__create_table_as(temporary, relation, compiled_code, language)) }}
{%- endmacro %}


{% macro spark__create_view_as(relation, sql) -%}
    {{ return(dbt.spark__create_view_as(relation, allocator.spark_sql(sql))) }}
{%- endmacro %}


{% macro spark__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    {{ return(dbt.default__get_test_sql(allocator.spark_sql(main_sql), fail_calc, warn_if, error_if, limit)) }}
{%- endmacro %}


{#- A type as the contracts name it (DuckDB's names) in the engine's SQL. -#}
{% macro sql_type(data_type) -%}
    {{ return(adapter.dispatch('sql_type', 'allocator')(data_type)) }}
{%- endmacro %}


{% macro duckdb__sql_type(data_type) -%}
    {{ return(data_type) }}
{%- endmacro %}


{#- Spark's varchar needs a length; its unbounded text type is string. -#}
{% macro spark__sql_type(data_type) -%}
    {{ return('string' if data_type | lower == 'varchar' else data_type) }}
{%- endmacro %}


{#- The engine functions models call that the engine lacks, defined for the
    session (a start hook). DuckDB has them all. -#}
{% macro engine_functions() -%}
    {{ return(adapter.dispatch('engine_functions', 'allocator')()) }}
{%- endmacro %}


{% macro default__engine_functions() -%}
    {{ return('') }}
{%- endmacro %}


{#- error(message) stops the query with `message` as the build's error
    (DuckDB's built-in): on Spark a session function over raise_error. -#}
{% macro spark__engine_functions() -%}
    {%- do run_query(
        "create or replace temporary function error(message string) returns string"
        ~ " return cast(raise_error(message) as string)"
    ) -%}
    {#- isfinite(x): neither NaN nor infinite -#}
    {%- do run_query(
        "create or replace temporary function isfinite(x double) returns boolean"
        ~ " return not isnan(x) and abs(x) != double('infinity')"
    ) -%}
    {{ return('') }}
{%- endmacro %}


{#- Spark: Jinja cannot see the file system, and Spark SQL has no file
    listing. On the spark target a build reads only paths the gate bound
    after os.path.isfile (allocator.spark_gate), so a path that reaches a
    model names a file that existed when the gate checked it. -#}
{% macro spark__file_exists(path) -%}
    {{ return(true) }}
{%- endmacro %}


{#- dbt's float is 4 bytes on Spark as on DuckDB; prices, weights and
    returns need 8 (duckdb__type_float). -#}
{% macro spark__type_float() -%}
    double
{%- endmacro %}


{% macro spark__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {{ return(dbt.default__get_empty_subquery_sql(allocator.spark_sql(select_sql), select_sql_header)) }}
{%- endmacro %}


{#- An enforced contract's types are DuckDB's names; dbt checks them on
    Spark through this query, so it gets Spark's. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set mapped = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() -%}
        {%- if copy.get('data_type') -%}
            {%- do copy.update({'data_type': allocator.sql_type(copy['data_type'])}) -%}
        {%- endif -%}
        {%- do mapped.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(mapped)) }}
{%- endmacro %}


{#- Every column of `relation`, plus `column` as null text when it has none
    (an optional input column). -#}
{% macro with_optional_text_column(relation, column) -%}
    {{ return(adapter.dispatch('with_optional_text_column', 'allocator')(relation, column)) }}
{%- endmacro %}


{#- DuckDB: union by name adds what one side lacks. -#}
{% macro duckdb__with_optional_text_column(relation, column) -%}
    select * from {{ relation }}
    union all by name
    select cast(null as {{ dbt.type_string() }}) as {{ column }}
    where false
{%- endmacro %}


{#- Spark SQL has no union by name: the relation's columns are asked first. -#}
{% macro spark__with_optional_text_column(relation, column) -%}
    select *
    {%- if column not in allocator.relation_columns(relation) %}, cast(null as string) as {{ column }}{% endif %}
    from {{ relation }}
{%- endmacro %}


{#- Spark's hash of a whole row is xxhash64 over its columns. Its values
    differ from DuckDB's hash: a fingerprint is compared only with one made
    by the same engine (a scaled run with its baseline). -#}
{% macro spark__fingerprint_rows(alias) -%}
    md5(
        cast(count(*) as string) || '|'
        || cast(coalesce(sum(xxhash64({{ alias }}.*) % 1000000007), 0) as string) || '|'
        || cast(coalesce(bit_xor(xxhash64({{ alias }}.*)), 0) as string)
    )
{%- endmacro %}


{#- Aggregate: the distinct values of a text column, sorted, joined by
    `separator` (a literal); null when there are none. -#}
{% macro sorted_distinct_list(column, separator) -%}
    {{ return(adapter.dispatch('sorted_distinct_list', 'allocator')(column, separator)) }}
{%- endmacro %}


{% macro duckdb__sorted_distinct_list(column, separator) -%}
    string_agg(distinct {{ column }}, {{ allocator.sql_literal(separator) }} order by {{ column }})
{%- endmacro %}


{#- Spark's string_agg takes no order; a sorted set of the values joins the
    same text. -#}
{% macro spark__sorted_distinct_list(column, separator) -%}
    case when count({{ column }}) > 0
        then array_join(array_sort(collect_set({{ column }})), {{ allocator.sql_literal(separator) }})
    end
{%- endmacro %}


{% macro spark__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {{ return(dbt.default__get_unit_test_sql(
        allocator.spark_sql(main_sql), allocator.spark_sql(expected_fixture_sql), expected_column_names
    )) }}
{%- endmacro %}
