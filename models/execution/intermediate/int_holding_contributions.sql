{#- The book's holdings, per session, sleeve and symbol: the weight held
    (from the rebalance the calendar's held_rebalance_date names) and its
    contribution, held weight x the symbol's simple return that session, 0
    when the symbol has none. The one definition of the contribution:
    sleeve_returns sums it per sleeve, trend_unit_returns reads the trend
    sleeve's, allocator_state_v1_warm_up_holdings the warm-up's. Kept to the
    recorded sessions (is_recorded, from start) and the allocator's warm-up
    sessions before start (is_warm_up); int_sleeve_weights computes every
    rebalance, so one source serves both windows. -#}
{#- A view: its readers keep their rows only (the recorded trend sleeve,
    the warm-up), and DuckDB pushes those filters into the join, so nothing
    stores sessions x held symbols; as a table the demo's pass 1 spent more
    on its SQL (363.6 ms median against 313.4 ms, docs/rules.md). -#}
{{ config(materialized='view') }}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

sleeve_weights as (

    select * from {{ ref('int_sleeve_weights') }}

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

final as (

    select
        run_config.run_id,
        calendar.date,
        calendar.held_rebalance_date,
        sleeve_weights.sleeve,
        sleeve_weights.symbol,
        sleeve_weights.weight as held_weight,
        sleeve_weights.weight * coalesce(returns.simple_return, 0.0) as contribution,
        calendar.is_recorded,
        calendar.is_warm_up,
    from calendar
    inner join sleeve_weights
        on sleeve_weights.rebalance_date = calendar.held_rebalance_date
    left join returns
        on returns.date = calendar.date
        and returns.symbol = sleeve_weights.symbol
    cross join run_config
    where calendar.is_recorded or calendar.is_warm_up

)

select * from final
