{#- Daily return of each sleeve's unit (gross 1) book, held between
    rebalances, over the whole history: the input of sleeve vol targeting. -#}
with unit_weights as (

    select * from {{ ref('int_sleeve_unit_weights') }}

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

final as (

    select
        calendar.date,
        unit_weights.sleeve,
        sum(unit_weights.unit_weight * coalesce(returns.simple_return, 0.0)) as unit_return,
    from calendar
    inner join unit_weights
        on unit_weights.rebalance_date = calendar.held_rebalance_date
    left join returns
        on returns.date = calendar.date
        and returns.symbol = unit_weights.symbol
    group by calendar.date, unit_weights.sleeve

)

select * from final
