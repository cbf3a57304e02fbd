{#-
    Write a published run's lagged scalars as a precomputed-scalar file, e.g.
      dbt run-operation export_applied_scalars --args '{run_id: base}'
    writes reports/runs/base/allocator_risk_v1_applied.csv, which a later run
    applies with allocator_v1.precomputed_scalar_filename, even in another
    database. The directory must exist (dbt's Jinja cannot create one). The
    run id and path reach SQL only as quoted literals.
-#}
{% macro export_applied_scalars(run_id, path=none) %}
    {%- set path = path or 'reports/runs/' ~ run_id ~ '/allocator_risk_v1_applied.csv' -%}
    {%- set relation = 'artifacts.allocator_risk_v1_applied' -%}
    {%- set count = run_query("select count(*) from " ~ relation ~ " where run_id = " ~ allocator.sql_literal(run_id)).columns[0].values()[0] -%}
    {%- if count == 0 -%}
        {{ exceptions.raise_compiler_error("run_id '" ~ run_id ~ "' has no rows in " ~ relation) }}
    {%- endif -%}
    {%- do run_query(
        "copy (select rebalance_date, risk_scalar_applied, risk_scalar_computed, is_missing_filled from "
        ~ relation ~ " where run_id = " ~ allocator.sql_literal(run_id) ~ " order by rebalance_date) to "
        ~ allocator.sql_literal(path) ~ " (header, delimiter ',')"
    ) -%}
    {{ log("wrote " ~ count ~ " rows to " ~ path, info=true) }}
{% endmacro %}
