{#-
    What the controls read, one row per session of the run: the governor's
    scalar on the book and the close it was decided at (its cadence and lag,
    allocator_scalars_daily), the unscaled book's 20-day vol at that close
    (the vol target's input, null before the state is ready), and the
    unscaled and scaled books' returns.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

daily_scalars as (

    select * from {{ ref('allocator_scalars_daily') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

state as (

    select * from {{ ref('allocator_state_v1') }}

),

final as (

    select
        run_config.run_id,
        unscaled.date,
        daily_scalars.held_rebalance_date,
        -- a returns-only book has no weights: every session trades only the overlay
        unscaled.held_rebalance_date is null as is_returns_only,
        daily_scalars.scalar_decided_at,
        -- the scaled book's own exposure: the delivered scalar, or with
        -- sleeve scalars the book's effective one (bit-equal when off)
        scaled.risk_scalar_used as governor_exposure,
        state.port_rvol_20d as decided_rvol_20d,
        unscaled.gross_return as unscaled_gross_return,
        unscaled.turnover as unscaled_turnover,
        unscaled.net_return as unscaled_net_return,
        scaled.net_return as governor_net_return,
    from unscaled
    cross join run_config
    inner join daily_scalars
        on unscaled.date = daily_scalars.date
    inner join scaled
        on unscaled.date = scaled.date
    left join state
        on daily_scalars.scalar_decided_at = state.date
        and state.is_ready

)

select * from final
