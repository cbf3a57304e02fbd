{#-
    The gate: one row, the resolved and validated configuration of the run
    being built (python/allocator/run_config.py owns the rules). Every other
    model of the run depends on it, so a bad var stops the build first, with
    a message that names the var and what would be right. Models and the
    publish hook read their settings from this row, never from var() or a
    query at compile time. Each column is cast to its type in this model's
    contract (_run__models.yml), the one definition of the run parameters.
-#}
with resolved as (

    select * from {{ ref('stg_run__resolved') }}

),

checked as (

    -- error() stops the build with the resolver's message as it is
    select
        *,
        case when problem is not null then error(problem) end as failed,
    from resolved

),

final as (

    select
        {%- for column in model.columns.values() if (column.meta or {}).get('from') != 'dbt' %}
        cast(checked.{{ column.name }} as {{ allocator.sql_type(column.data_type) }}) as {{ column.name }},
        {%- endfor %}
        '{{ invocation_id }}' as dbt_invocation_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as created_at,
    from checked
    where checked.failed is null

)

select * from final
