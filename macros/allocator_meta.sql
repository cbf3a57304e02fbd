{#-
    The shared end of the four meta models (allocator_state_v1_meta,
    allocator_regime_v1_meta, allocator_risk_v1_meta,
    allocator_risk_v1_applied_meta): one row per run saying how a layer was
    computed. A meta model writes the CTEs only it needs, then calls this
    macro for the CTEs run_config, layer_summary and final, and ends with
    `select * from final`.

    layer              the layer's relation, e.g. ref('allocator_state_v1')
    date_column        its date column: first_date, last_date
    parameters         the layer's fixed definitions, a Jinja mapping written
                       as JSON (keys sorted), or none
    parameter_sql      (key, SQL expression) pairs added to that JSON (after
                       it, replacing a key it has); they may read run_config,
                       layer_summary and the joined CTEs
    features_present   SQL: JSON array (text) of the inputs the layer had
    features_missing   SQL: JSON object (text) input -> why it is left out
    summary_columns    (name, aggregate) pairs over the layer added to
                       layer_summary, next to first_date, last_date, row_count
    extra_columns      SQL columns written after row_count
    joins              one-row CTEs of the model that final cross joins

    Output: run_id, version, parameters, features_present, features_missing,
    first_date, last_date, row_count, the extra columns, config_hash,
    created_at.
-#}
{% macro allocator_meta(
    layer,
    date_column,
    parameters,
    parameter_sql,
    features_present,
    features_missing,
    summary_columns=[],
    extra_columns=[],
    joins=[]
) -%}

run_config as (

    select * from {{ ref('stg_run_config') }}

),

layer_summary as (

    select
        min({{ date_column }}) as first_date,
        max({{ date_column }}) as last_date,
        count(*) as row_count,
        {%- for name, aggregate in summary_columns %}
        {{ aggregate }} as {{ name }},
        {%- endfor %}
    from {{ layer }}

),

final as (

    select
        run_config.run_id,
        '{{ allocator.allocator_v1_version() }}' as version,
        {% if parameters is none -%}
        cast({{ allocator.json_object_sql(parameter_sql) }} as {{ dbt.type_string() }})
        {%- else -%}
        {{ allocator.json_merge_sql(allocator.json_literal(parameters), allocator.json_object_sql(parameter_sql)) }}
        {%- endif %} as parameters,
        {{ features_present }} as features_present,
        {{ features_missing }} as features_missing,
        layer_summary.first_date,
        layer_summary.last_date,
        layer_summary.row_count,
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        run_config.config_hash,
        run_config.created_at,
    from run_config
    cross join layer_summary
    {%- for name in joins %}
    cross join {{ name }}
    {%- endfor %}

)

{%- endmacro %}
