{#-
    The lagged risk scalars a precomputed-mode run applies, one row per
    rebalance date, from a stored baseline's published rows (source_kind
    'run') or a scalar file ('file'). Empty in modes off and compute. A
    malformed file stops the build here with the file and row named.
-#}
with loaded as (

    select * from {{ ref('stg_allocator__precomputed_scalars_loaded') }}

),

checked as (

    select
        *,
        case when problem is not null then error(problem) end as failed,
    from loaded

),

final as (

    select
        cast(rebalance_date as date) as rebalance_date,
        cast(risk_scalar_applied as {{ dbt.type_float() }}) as risk_scalar_applied,
        cast(source_kind as {{ dbt.type_string() }}) as source_kind,
        cast(source as {{ dbt.type_string() }}) as source,
    from checked
    where failed is null

)

select * from final
