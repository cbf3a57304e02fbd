{#- Each sleeve's daily contribution to the book's gross return (costs are
    charged at book level): sum of its held weights x symbol returns. The
    sleeves add up to portfolio_returns_unscaled.gross_return. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

final as (

    select
        run_config.run_id,
        calendar.date,
        sleeve_weights.sleeve,
        sum(sleeve_weights.weight * coalesce(returns.simple_return, 0.0)) as sleeve_return,
    from calendar
    inner join sleeve_weights
        on sleeve_weights.rebalance_date = calendar.held_rebalance_date
    left join returns
        on returns.date = calendar.date
        and returns.symbol = sleeve_weights.symbol
    cross join run_config
    where calendar.is_recorded
    group by run_config.run_id, calendar.date, sleeve_weights.sleeve

)

select * from final
