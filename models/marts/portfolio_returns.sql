{#- The run's daily book, one row per (run_id, date): the return the run
    reports (scaled when the allocator is on, unscaled otherwise) next to the
    unscaled book it governs, with its equity and drawdown. -#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental', on_schema_change='fail') }}
with unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

joined as (

    select
        scaled.run_id,
        scaled.date,
        scaled.net_return as portfolio_return,
        unscaled.net_return as portfolio_return_unscaled,
        scaled.gross_return,
        scaled.turnover,
        scaled.transaction_cost,
        scaled.risk_scalar_used,
    from scaled
    inner join unscaled
        on scaled.date = unscaled.date

),

with_equity as (

    select
        *,
        -- wealth starts at 1.0 before the first return (empyrical)
        {{ allocator.wealth('portfolio_return') }} as equity,
        {{ allocator.wealth('portfolio_return_unscaled') }} as equity_unscaled,
    from joined

),

final as (

    select
        run_id,
        date,
        portfolio_return,
        portfolio_return_unscaled,
        gross_return,
        turnover,
        transaction_cost,
        risk_scalar_used,
        equity,
        {{ allocator.drawdown('equity') }} as drawdown,
        equity_unscaled,
        -- the unscaled book's drawdown: the baseline's, in a two-pass audit
        {{ allocator.drawdown('equity_unscaled') }} as drawdown_unscaled,
    from with_equity

)

select * from final
{{ allocator.live_new_rows('date') }}
