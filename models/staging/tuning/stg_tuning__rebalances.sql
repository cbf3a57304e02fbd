{#- The baseline's recorded rebalances, the calendar its scalars were lagged
    over (allocator_risk_v1_applied): cadences rebalance_lagged and
    rebalance put a configuration's scalar on the book at these dates. -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

applied as (

    select * from {{ source('published_artifacts', 'allocator_risk_v1_applied') }}

),

final as (

    select applied.rebalance_date,
    from applied
    inner join tuning_config
        on applied.run_id = tuning_config.baseline_run_id

)

select * from final
