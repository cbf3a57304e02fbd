{#-
    The precomputed-scalar CSV (allocator_v1.mode precomputed, loaded from a
    file): the format of the seeds' allocator_risk_v1_applied.csv, i.e.
      rebalance_date (or date)  YYYY-MM-DD, one row per rebalance, unique
      risk_scalar_applied       a number in (0, 1]
    Other columns (run_id, risk_scalar_computed, ...) are ignored, so the
    export of an allocator_risk_v1_applied table is a valid file.
-#}

{#- The date column a scalar file uses: rebalance_date, else date. -#}
{% macro scalar_file_date_column(path) -%}
    {%- set columns = allocator.relation_columns(allocator.read_long_file(path)) -%}
    {{ return('rebalance_date' if 'rebalance_date' in columns or not execute else 'date') }}
{%- endmacro %}


{#- Fail with a message naming the file and the offending row, before any
    allocator table of the run is written. -#}
{% macro assert_valid_scalar_file(path) %}
    {%- if execute -%}
        {%- set where = "precomputed scalar file '" ~ path ~ "'" -%}
        {%- if not allocator.file_exists(path) -%}
            {{ exceptions.raise_compiler_error(where ~ " does not exist (working directory: the dbt project directory)") }}
        {%- endif -%}
        {%- set relation = allocator.read_long_file(path) -%}
        {%- set columns = allocator.relation_columns(relation) -%}
        {%- if 'risk_scalar_applied' not in columns or ('rebalance_date' not in columns and 'date' not in columns) -%}
            {{ exceptions.raise_compiler_error(where ~ " needs columns rebalance_date (or date) and risk_scalar_applied; found " ~ columns | join(', ')) }}
        {%- endif -%}
        {%- set date_column = allocator.scalar_file_date_column(path) -%}
        {%- set violation = run_query(allocator.scalar_file_violation_sql(relation, date_column)) -%}
        {%- if violation.rows | length > 0 -%}
            {{ exceptions.raise_compiler_error(where ~ ": " ~ violation.columns[0].values()[0]) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- The first problem of a scalar file as one message row; no rows when clean. -#}
{% macro scalar_file_violation_sql(relation, date_column) %}
    with raw as (
        select
            trim(cast({{ date_column }} as {{ dbt.type_string() }})) as raw_date,
            trim(cast(risk_scalar_applied as {{ dbt.type_string() }})) as raw_value,
        from {{ relation }}
    ),

    typed as (
        select
            *,
            {{ allocator.parse_date_text('raw_date') }} as parsed_date,
            {{ dbt.safe_cast('raw_value', dbt.type_float()) }} as parsed_value,
        from raw
    ),

    violations as (
        select 0 as priority, cast(null as {{ dbt.type_string() }}) as sort_date, 'the file has no rows' as message
        from (select count(*) as row_count from typed) as counted
        where row_count = 0
        union all
        select 1, raw_date, '{{ date_column }} ''' || coalesce(raw_date, '') || ''' is not a date (expected YYYY-MM-DD)'
        from typed where parsed_date is null
        union all
        select 2, raw_date, 'date ' || raw_date || ': risk_scalar_applied ''' || coalesce(raw_value, '') || ''' is not a number'
        from typed where parsed_date is not null and parsed_value is null
        union all
        select 3, raw_date, 'date ' || raw_date || ': risk_scalar_applied ' || raw_value || ' is not in (0, 1]'
        from typed where parsed_value is not null and (not isfinite(parsed_value) or parsed_value <= 0 or parsed_value > 1)
        union all
        select 4, min(raw_date), 'date ' || cast(parsed_date as {{ dbt.type_string() }}) || ' appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times'
        from typed
        where parsed_date is not null
        group by parsed_date
        having count(*) > 1
    )

    select message from violations
    order by priority, sort_date, message
    limit 1
{% endmacro %}


{#-
    Write a run's lagged scalars as a precomputed-scalar file, e.g.
      dbt run-operation export_applied_scalars --args '{run_id: base}'
    writes reports/runs/base/allocator_risk_v1_applied.csv, which a later run
    finds with allocator_v1.precomputed_run_id: base even in another database.
    The directory must exist (dbt's Jinja cannot create one).
-#}
{% macro export_applied_scalars(run_id, path=none) %}
    {%- set path = path or 'reports/runs/' ~ run_id ~ '/allocator_risk_v1_applied.csv' -%}
    {%- set relation = source('allocator_artifacts', 'allocator_risk_v1_applied') -%}
    {%- set count = run_query("select count(*) from " ~ relation ~ " where run_id = '" ~ run_id ~ "'").columns[0].values()[0] -%}
    {%- if count == 0 -%}
        {{ exceptions.raise_compiler_error("run_id '" ~ run_id ~ "' has no rows in " ~ relation) }}
    {%- endif -%}
    {%- do run_query(
        "copy (select rebalance_date, risk_scalar_applied, risk_scalar_computed, is_missing_filled from "
        ~ relation ~ " where run_id = '" ~ run_id ~ "' order by rebalance_date) to '" ~ path ~ "' (header, delimiter ',')"
    ) -%}
    {{ log("wrote " ~ count ~ " rows to " ~ path, info=true) }}
{% endmacro %}
