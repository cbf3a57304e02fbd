{#-
    The controls' books, one row per (run, control, session): each
    control's exposure (controls_exposures_daily) priced on the unscaled
    book by the scaled book's own pricing (macros/price_exposure.sql), so a
    control pays exactly the costs the governor would at that exposure;
    with equity and drawdown as portfolio_returns defines them.
-#}
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
        {{ allocator.wealth('net_return', 'partition by control order by date') }} as equity,
    from priced_exposure

),

final as (

    select
        run_config.run_id,
        with_equity.control,
        with_equity.date,
        with_equity.exposure,
        with_equity.gross_return,
        with_equity.turnover,
        with_equity.transaction_cost,
        with_equity.net_return,
        with_equity.equity,
        {{ allocator.drawdown('with_equity.equity', 'partition by with_equity.control order by with_equity.date') }} as drawdown,
    from with_equity
    cross join run_config

)

select * from final
