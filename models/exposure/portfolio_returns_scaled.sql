{#-
    The book after the allocator: the scalar on the book each session
    (allocator_scalars_daily, by the run's cadence) priced on the unscaled
    book by macros/price_exposure.sql, the pricing the two-pass controls
    share. So the scaled book needs neither the market's returns nor the
    strategy, only the published unscaled book and its weights; in mode off
    it equals the unscaled book.

    On session t the book holds s_t x w_k and earns s_t x the unscaled
    book's gross return; turnover is sum_i |s_t w_k,i - s_(t-1) w_(k-1),i|
    on the first session of a rebalance (the book starts in cash) and
    |s_t - s_(t-1)| x the gross exposure on the others (the overlay's own
    trading, which only the daily cadence has). A returns-only portfolio (no
    weights) holds a gross exposure of 1: its overlay turnover is
    |s_t - s_(t-1)|, and it starts invested as the unscaled book does.
-#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

daily_scalars as (

    select * from {{ ref('allocator_scalars_daily') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

weights as (

    select * from {{ ref('weights_raw') }}

),

sleeve_scaled as (

    select * from {{ ref('int_exposure_sleeve_scaled_book') }}

),

exposures as (

    select
        'governor' as book,
        date,
        held_rebalance_date,
        risk_scalar_used as exposure,
    from daily_scalars

),

{{ allocator.price_exposure('exposures', 'unscaled', 'weights', 'run_config', ['book']) }},

book_scaled as (

    select
        run_config.run_id,
        priced_exposure.date,
        priced_exposure.held_rebalance_date,
        priced_exposure.exposure as risk_scalar_used,
        priced_exposure.gross_return,
        priced_exposure.turnover,
        priced_exposure.transaction_cost,
        priced_exposure.net_return,
    from priced_exposure
    cross join run_config
    where run_config.sleeve_scalars = 'off'

),

sleeves_scaled as (

    -- Stage 6 (var sleeve_scalars): each sleeve at its own scalar, priced
    -- by the same macro on the per-symbol scaled weights; risk_scalar_used
    -- is then the book's effective scalar (sleeve scalars by gross exposure)
    select
        sleeve_scaled.run_id,
        sleeve_scaled.date,
        sleeve_scaled.held_rebalance_date,
        sleeve_scaled.effective_scalar as risk_scalar_used,
        sleeve_scaled.gross_return,
        sleeve_scaled.turnover,
        sleeve_scaled.transaction_cost,
        sleeve_scaled.net_return,
    from sleeve_scaled

),

final as (

    select * from book_scaled
    union all
    select * from sleeves_scaled

)

select * from final
{{ allocator.live_new_rows('date') }}
