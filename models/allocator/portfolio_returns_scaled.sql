{{ config(materialized='incremental') }}
{#-
    The book after the allocator, priced by the same execution simulator
    (macros/simulate_portfolio.sql) as portfolio_returns_unscaled, so the two
    differ only by the scaling: turnover and costs follow the scaled weights.
    In mode off it equals the unscaled book.

    A returns-only portfolio (portfolio_source returns_file) has no weights:
    every recorded date counts as a rebalance, and the return of a date is
    the unscaled return x the scalar used at the previous date's rebalance
    (the position held that day), exactly what a daily-rebalanced weights
    book would get. The first date, which no rebalance of the run precedes,
    uses apply_missing_scalar_as (1.0 in mode off). Costs cannot be re-priced
    without holdings: gross and net returns are both scaled, turnover and
    cost stay as in the input (0).
-#}
{%- set settings = allocator.run_settings() -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

scalars as (

    select * from {{ allocator.current_run(ref('allocator_scalars_at_rebalances')) }}

),

unscaled as (

    select * from {{ allocator.current_run(ref('portfolio_returns_unscaled')) }}

),

scaled_weights as (

    select * from {{ allocator.current_run(ref('weights_scaled')) }}

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

{%- if settings['portfolio_source'] == 'returns_file' %}

held as (

    select
        unscaled.*,
        lag(unscaled.date) over (order by unscaled.date) as previous_date,
    from unscaled

),

with_scalar as (

    select
        held.date,
        held.previous_date as held_rebalance_date,
        coalesce(
            scalars.risk_scalar_used,
            case when run_config.allocator_mode = 'off' then 1.0 else run_config.apply_missing_scalar_as end
        ) as risk_scalar_used,
        held.gross_return,
        held.turnover,
        held.transaction_cost,
        held.net_return,
    from held
    cross join run_config
    left join scalars
        on held.previous_date = scalars.rebalance_date

),

priced as (

    select
        date,
        held_rebalance_date,
        risk_scalar_used,
        gross_return * risk_scalar_used as gross_return,
        turnover,
        transaction_cost,
        net_return * risk_scalar_used as net_return,
    from with_scalar

),

{%- else %}

weights as (

    select
        rebalance_date,
        symbol,
        weight_scaled as weight,
    from scaled_weights

),

holdings as (

    select * from calendar where is_recorded

),

{{ allocator.simulate_portfolio('weights', 'returns', 'holdings', settings['transaction_cost_bps']) }},

priced as (

    select
        simulated.date,
        simulated.held_rebalance_date,
        scalars.risk_scalar_used,
        simulated.gross_return,
        simulated.turnover,
        simulated.transaction_cost,
        simulated.net_return,
    from simulated
    left join scalars
        on simulated.held_rebalance_date = scalars.rebalance_date

),

{%- endif %}

final as (

    select
        run_config.run_id,
        priced.date,
        priced.held_rebalance_date,
        priced.risk_scalar_used,
        priced.gross_return,
        priced.turnover,
        priced.transaction_cost,
        priced.net_return,
    from priced
    cross join run_config

)

select * from final
