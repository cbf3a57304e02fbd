{#- The unscaled book on the sessions before start that warm the state up:
    its last warm_up - 1 (59) daily returns before start, so start is the
    state's 60th observation and its regime exists from the first session
    of the window. A returns file gives its own returns; a book with
    holdings is simulated over those sessions by the one execution
    simulator (macros/simulate_portfolio.sql) from the strategy's (or the
    weights file's) weights at the rebalances they hold, so the history
    warmed on is the book that runs. These rows are inputs to the state
    only: the run's portfolio, returns, metrics, two-pass and controls
    cover [start, end]. Fewer rows when the data has less history; none
    when the window starts on its first date (the state then warms up
    inside the window, as before). -#}
{#- incremental: a live update keeps the stored rows (all before its cut)
    and adds none (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
{%- set windows = allocator.allocator_state_windows() -%}

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

warm_up_returns as (

    select
        file_returns.date,
        file_returns.portfolio_return,
        row_number() over (order by file_returns.date desc) as sessions_before_start,
    from file_returns
    cross join run_config
    where file_returns.date < run_config.start_date

),

simulated as (

    -- returns-only input: no holdings, so no turnover or costs to charge
    select
        date,
        cast(null as date) as held_rebalance_date,
        portfolio_return as gross_return,
        0.0 as turnover,
        0.0 as transaction_cost,
        portfolio_return as net_return,
    from warm_up_returns
    where sessions_before_start <= {{ windows['warm_up'] - 1 }}

),

{%- else %}

sleeve_weights as (

    select * from {{ ref('int_sleeve_weights') }}

),

holdings as (

    select * from calendar where is_warm_up

),

weights as (

    -- the book's weight per (rebalance, symbol) at the rebalances the
    -- warm-up holds: the sum of its sleeves', as weights_raw
    select rebalance_date, symbol, sum(weight) as weight,
    from sleeve_weights
    where rebalance_date in (select held_rebalance_date from holdings)
    group by rebalance_date, symbol

),

returns as (

    select * from {{ ref('stg_market__returns') }}

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
