{#- The book's weights after the allocator: weights_raw x the scalar used at
    that rebalance (1.0 in mode off). Both weights are kept for the audit.
    A returns-only portfolio has no weights, so no rows. -#}
with weights as (

    select * from {{ ref('weights_raw') }}

),

scalars as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

final as (

    select
        weights.run_id,
        weights.rebalance_date,
        weights.symbol,
        weights.weight as weight_raw,
        scalars.risk_scalar_used,
        weights.weight * scalars.risk_scalar_used as weight_scaled,
    from weights
    inner join scalars
        on weights.rebalance_date = scalars.rebalance_date

)

select * from final
