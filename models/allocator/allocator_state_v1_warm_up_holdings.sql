{#- The book's holdings on the allocator's warm-up sessions
    (int_rebalance_calendar.is_warm_up, the sessions just before start):
    each sleeve's held weight per symbol and its contribution (held weight x
    the symbol's return, 0 when it has none), as sleeve_returns and
    trend_unit_returns measure the recorded book from start. Inputs to the
    state only, never the run's portfolio (published so the warm-up can be
    audited and replayed, e.g. as a weights file's history). Empty for a
    returns-only book. -#}
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
    from calendar
    inner join sleeve_weights
        on sleeve_weights.rebalance_date = calendar.held_rebalance_date
    left join returns
        on returns.date = calendar.date
        and returns.symbol = sleeve_weights.symbol
    cross join run_config
    where calendar.is_warm_up

)

select * from final
