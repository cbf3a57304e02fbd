{#-
    Validate one long-format input file before staging reads it.

    Runs at execution time, before the model's table is written, so a bad file
    fails the build with a message that names the file and the offending row
    (by its key: symbol and date) and leaves every stored table as it was.

    relation          the source relation that reads the file
    path              the file path, for messages
    label             what the file is ("prices", "benchmark", ...), for messages
    required_columns  columns that must be present
    key_columns       columns that identify a row; duplicates are an error
    value_column      the numeric column to check
    value_rule        'positive' (prices), 'finite' (weights), 'above_minus_one' (returns)
-#}
{% macro assert_valid_input(relation, path, label, required_columns, key_columns, value_column, value_rule) %}
    {%- if execute -%}
        {%- set problem = allocator.input_problem(relation, path, label, required_columns, key_columns, value_column, value_rule) -%}
        {%- if problem -%}
            {{ exceptions.raise_compiler_error(problem) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- The first problem with an input file as a message, or none when the file
    is good. Checks run cheapest first: existence, emptiness, columns, rows. -#}
{% macro input_problem(relation, path, label, required_columns, key_columns, value_column, value_rule) %}
    {%- set where = label ~ " file '" ~ path ~ "'" -%}
    {%- if not allocator.file_exists(path) -%}
        {{ return(where ~ " does not exist (relative paths start at the dbt project directory)") }}
    {%- endif -%}

    {%- set row_count = run_query("select count(*) from " ~ relation).columns[0].values()[0] -%}
    {%- if row_count == 0 -%}
        {{ return(where ~ " is empty: expected a header and at least one row with columns " ~ required_columns | join(', ')) }}
    {%- endif -%}

    {%- set found_columns = allocator.relation_columns(relation) -%}
    {%- set missing_columns = [] -%}
    {%- for column in required_columns if column not in found_columns -%}
        {%- do missing_columns.append(column) -%}
    {%- endfor -%}
    {%- if missing_columns -%}
        {{ return(where ~ " is missing required column(s) " ~ missing_columns | join(', ') ~ "; found " ~ found_columns | join(', ') ~ "; expected " ~ required_columns | join(', ')) }}
    {%- endif -%}

    {%- set violation = run_query(allocator.input_violation_sql(relation, key_columns, value_column, value_rule)) -%}
    {%- if violation.rows | length > 0 -%}
        {{ return(where ~ ": " ~ violation.columns[0].values()[0]) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#-
    Check an input file without building anything:
        dbt run-operation check_input_file --args '{path: my_prices.csv}'
    Prints "OK <path>" per valid file; paths may be a list. Any invalid file
    raises a compiler error listing "INVALID <message>" per bad file, so the
    command exits non-zero (scripts and CI can rely on the exit code).
    kind: prices (default), benchmark, weights or portfolio_returns, checked
    with the arguments their staging models give assert_valid_input.
-#}
{% macro check_input_file(path=none, paths=none, label=none, kind='prices') %}
    {%- set contracts = {
        'prices': [['date', 'symbol', 'close'], ['date', 'symbol'], 'close', 'positive'],
        'benchmark': [['date', 'symbol', 'close'], ['date', 'symbol'], 'close', 'positive'],
        'weights': [['date', 'symbol', 'weight'], ['date', 'symbol'], 'weight', 'finite'],
        'portfolio_returns': [['date', 'portfolio_return'], ['date'], 'portfolio_return', 'above_minus_one'],
    } -%}
    {%- if not (paths or path) -%}
        {{ exceptions.raise_compiler_error("check_input_file needs a file: --args '{path: FILE}' or '{paths: [FILE, ...]}'") }}
    {%- endif -%}
    {%- if kind not in contracts -%}
        {{ exceptions.raise_compiler_error("check_input_file: kind '" ~ kind ~ "' is not one of " ~ contracts.keys() | sort | join(', ')) }}
    {%- endif -%}
    {%- set contract = contracts[kind] -%}
    {%- set invalid = [] -%}
    {%- for file in (paths or [path]) -%}
        {#- A URL would make DuckDB reach the network; the gate refuses it the same way. -#}
        {%- if modules.re.match('^[A-Za-z][A-Za-z0-9+.-]*://', file | string) -%}
            {%- do invalid.append('INVALID ' ~ file ~ ': names a URL or scheme; give a local file') -%}
        {%- else -%}
        {%- set relation = allocator.read_long_file(file) if allocator.file_exists(file) else '(select 1 as missing)' -%}
        {%- set keys = contract[1] + (['sleeve'] if kind == 'weights' and 'sleeve' in allocator.relation_columns(relation) else []) -%}
        {%- set problem = allocator.input_problem(
            relation, file, label or kind | replace('_', ' '),
            required_columns=contract[0],
            key_columns=keys,
            value_column=contract[2],
            value_rule=contract[3],
        ) -%}
        {%- if problem -%}
            {%- do invalid.append('INVALID ' ~ problem) -%}
        {%- else -%}
            {{ print('OK ' ~ file) }}
        {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if invalid -%}
        {{ exceptions.raise_compiler_error(invalid | join('\n')) }}
    {%- endif -%}
{% endmacro %}


{#- The first violation found, as one message row; no rows when the file is clean. -#}
{% macro input_violation_sql(relation, key_columns, value_column, value_rule) %}
    {%- set text_keys = [] -%}
    {%- for column in key_columns if column != 'date' -%}
        {%- do text_keys.append(column) -%}
    {%- endfor -%}
    {%- set row_label = allocator.input_row_label(text_keys, 'raw_date') -%}
    with raw as (
        select
            {%- for column in text_keys %}
            trim(cast({{ column }} as {{ dbt.type_string() }})) as raw_{{ column }},
            {%- endfor %}
            trim(cast(date as {{ dbt.type_string() }})) as raw_date,
            trim(cast({{ value_column }} as {{ dbt.type_string() }})) as raw_value
        from {{ relation }}
    ),

    typed as (
        select
            *,
            {{ allocator.parse_date_text('raw_date') }} as parsed_date,
            {{ dbt.safe_cast('raw_value', dbt.type_float()) }} as parsed_value,
            {{ allocator.is_missing_text('raw_value') }} as value_is_missing
        from raw
    ),

    violations as (
        {%- for column in text_keys %}
        select 0 as priority, raw_date as sort_date, {{ row_label }} || ': {{ column }} is empty' as message
        from typed where raw_{{ column }} is null or raw_{{ column }} = ''
        union all
        {%- endfor %}
        select 1 as priority, raw_date as sort_date, {{ row_label }} || ': date ''' || coalesce(raw_date, '') || ''' is not a date (expected YYYY-MM-DD)' as message
        from typed where parsed_date is null
        union all
        select 2, raw_date, {{ row_label }} || ': {{ value_column }} ''' || raw_value || ''' is not a number'
        from typed where not value_is_missing and parsed_value is null
        union all
        {%- set bound = allocator.input_value_bound(value_rule) %}
        {%- if value_rule == 'positive' %}
        select 3, raw_date, {{ row_label }} || ': {{ value_column }} ' || raw_value || ' is not positive (prices must be > 0)'
        from typed where not value_is_missing and (parsed_value <= 0 or not isfinite(parsed_value))
        {%- elif value_rule == 'above_minus_one' %}
        select 3, raw_date, {{ row_label }} || ': {{ value_column }} ' || raw_value || ' is not above -1 (a simple return cannot lose more than everything)'
        from typed where not value_is_missing and (parsed_value <= -1 or not isfinite(parsed_value))
        {%- else %}
        select 3, raw_date, {{ row_label }} || ': {{ value_column }} ' || raw_value || ' is not finite'
        from typed where not value_is_missing and not isfinite(parsed_value)
        {%- endif %}
        union all
        select 3, raw_date, {{ row_label }} || ': {{ value_column }} ' || raw_value || ' is beyond {{ bound[1] }} ({{ bound[0] }}): a typo or a unit error, not a {{ value_column }}'
        from typed where not value_is_missing and isfinite(parsed_value) and abs(parsed_value) > {{ bound[0] }}
        union all
        select 4, min(raw_date), {{ allocator.input_row_label(text_keys, 'cast(parsed_date as ' ~ dbt.type_string() ~ ')') }} || ': appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times (duplicate {{ key_columns | join(", ") }})'
        from typed
        where parsed_date is not null
        group by parsed_date{% for column in text_keys %}, raw_{{ column }}{% endfor %}
        having count(*) > 1
    )

    select message from violations
    order by priority, sort_date, message
    limit 1
{% endmacro %}


{#- "symbol AAPL, date 2020-01-03": how a message names the offending row. -#}
{% macro input_row_label(text_keys, date_expression) -%}
    {%- for column in text_keys -%}
        '{{ column }} ' || coalesce(raw_{{ column }}, '<empty>') || ', ' ||
    {%- endfor -%}
    'date ' || coalesce({{ date_expression }}, '<empty>')
{%- endmacro %}


{#- Empty, NA and NaN mean "no price that day": kept missing, never an error. -#}
{% macro is_missing_text(column) -%}
    ({{ column }} is null or lower({{ column }}) in ('', 'na', 'nan', 'null', 'none'))
{%- endmacro %}


{#- The largest magnitude an input value may have, with why: beyond it the
    value is a typo or a unit error (a close of 1e308 passes every other
    check, then makes the volatility infinite). -#}
{% macro input_value_bound(value_rule) -%}
    {%- if value_rule == 'positive' -%}
        {{ return([1e9, 'a billion per share']) }}
    {%- elif value_rule == 'above_minus_one' -%}
        {{ return([100, 'a daily return of 10,000%']) }}
    {%- endif -%}
    {{ return([1000, 'a weight of 1,000 times the book']) }}
{%- endmacro %}
