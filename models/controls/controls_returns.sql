{#-
    The controls' books, one row per (run, control, session): each
    control's exposure (controls_exposures_daily) priced on the unscaled
    book by the scaled book's own pricing (macros/price_exposure.sql), so a
    control pays exactly the costs the governor would at that exposure;
    with equity and drawdown as portfolio_returns defines them.
-#}
{%- set book_window = 'partition by control order by date' -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

exposures as (

    select * from {{ ref('controls_exposures_daily') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

weights as (

    select * from {{ ref('weights_raw') }}

),

{{ allocator.price_exposure('exposures', 'unscaled', 'weights', 'run_config', ['control']) }},

with_equity as (

    select
        *,
        {{ allocator.wealth('net_return', book_window) }} as equity,
    from priced_exposure

),

with_drawdown as (

    select
        *,
        {{ allocator.drawdown('equity', book_window) }} as drawdown,
    from with_equity

),

final as (

    select
        run_config.run_id,
        with_drawdown.control,
        with_drawdown.date,
        with_drawdown.exposure,
        with_drawdown.gross_return,
        with_drawdown.turnover,
        with_drawdown.transaction_cost,
        with_drawdown.net_return,
        with_drawdown.equity,
        with_drawdown.drawdown,
    from with_drawdown
    cross join run_config

)

select * from final
