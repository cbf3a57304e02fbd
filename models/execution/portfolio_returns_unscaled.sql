{#- The book as the strategy (or the user's weights) built it, before the
    allocator: daily returns net of costs from start to end. The allocator's
    state is measured on this series, never on the scaled one. -#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}

-- depends_on: {{ ref('stg_portfolio__returns') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

{%- if allocator.portfolio_source() == 'returns_file' %}

file_returns as (

    select * from {{ ref('stg_portfolio__returns') }}

),

simulated as (

    -- returns-only input: no holdings, so no turnover or costs to charge
    select
        file_returns.date,
        cast(null as date) as held_rebalance_date,
        file_returns.portfolio_return as gross_return,
        0.0 as turnover,
        0.0 as transaction_cost,
        file_returns.portfolio_return as net_return,
    from file_returns
    cross join run_config
    where file_returns.date between run_config.start_date and run_config.end_date

),

{%- else %}

weights as (

    select * from {{ ref('weights_raw') }}

),

returns as (

    select * from {{ ref('stg_market__returns') }}

),

holdings as (

    select * from calendar where is_recorded

),

{{ allocator.simulate_portfolio('weights', 'returns', 'holdings', 'run_config') }},

{%- endif %}

final as (

    select
        run_config.run_id,
        simulated.date,
        simulated.held_rebalance_date,
        simulated.gross_return,
        simulated.turnover,
        simulated.transaction_cost,
        simulated.net_return,
    from simulated
    cross join run_config

)

select * from final
{{ allocator.live_new_rows('date') }}
