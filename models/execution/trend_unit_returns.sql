{#- The trend sleeve's "units": each symbol's daily return contribution to
    the trend sleeve (held weight x return), the input of trend breadth. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

trend_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}
    where sleeve = 'trend'

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

final as (

    select
        run_config.run_id,
        calendar.date,
        trend_weights.symbol,
        trend_weights.weight as held_weight,
        trend_weights.weight * coalesce(returns.simple_return, 0.0) as unit_return,
    from calendar
    inner join trend_weights
        on trend_weights.rebalance_date = calendar.held_rebalance_date
    left join returns
        on returns.date = calendar.date
        and returns.symbol = trend_weights.symbol
    cross join run_config
    where calendar.is_recorded

)

select * from final
