{#- The book's target weight per (rebalance, symbol) before the allocator:
    the sum of the sleeves' weights. -#}
with sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

final as (

    select
        run_id,
        rebalance_date,
        symbol,
        sum(weight) as weight,
    from sleeve_weights
    group by run_id, rebalance_date, symbol

)

select * from final
