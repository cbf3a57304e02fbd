{#- The book's weights after the allocator: weights_raw x the scalar used at
    that rebalance (1.0 in mode off). Both weights are kept for the audit.
    A returns-only portfolio has no weights, so no rows. With sleeve
    scalars (var sleeve_scalars) a symbol's scaled weight is the sum over
    sleeves of its weight x the sleeve's scalar on the first session that
    holds the rebalance, and risk_scalar_used the book's effective scalar
    that session (int_exposure_sleeve_scaled_book); a rebalance no session
    holds yet has no row. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

weights as (

    select * from {{ ref('weights_raw') }}

),

scalars as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

sleeve_daily as (

    select * from {{ ref('allocator_sleeve_scalars_daily') }}

),

sleeve_scaled_book as (

    select * from {{ ref('int_exposure_sleeve_scaled_book') }}

),

book_scaled as (

    select
        weights.run_id,
        weights.rebalance_date,
        weights.symbol,
        weights.weight as weight_raw,
        scalars.risk_scalar_used,
        weights.weight * scalars.risk_scalar_used as weight_scaled,
    from weights
    inner join scalars
        on weights.rebalance_date = scalars.rebalance_date
    cross join run_config
    where run_config.sleeve_scalars = 'off'

),

first_held_sessions as (

    select
        held_rebalance_date as rebalance_date,
        min(date) as date,
    from sleeve_daily
    group by held_rebalance_date

),

sleeve_symbol_weights as (

    select
        sleeve_weights.rebalance_date,
        sleeve_weights.symbol,
        first_held_sessions.date as first_held_session,
        sum(sleeve_weights.weight * sleeve_daily.sleeve_scalar_used) as weight_scaled,
    from sleeve_weights
    inner join first_held_sessions
        on sleeve_weights.rebalance_date = first_held_sessions.rebalance_date
    inner join sleeve_daily
        on first_held_sessions.date = sleeve_daily.date
        and sleeve_weights.sleeve = sleeve_daily.sleeve
    group by sleeve_weights.rebalance_date, sleeve_weights.symbol, first_held_sessions.date

),

sleeves_scaled as (

    select
        weights.run_id,
        weights.rebalance_date,
        weights.symbol,
        weights.weight as weight_raw,
        sleeve_scaled_book.effective_scalar as risk_scalar_used,
        sleeve_symbol_weights.weight_scaled,
    from weights
    inner join sleeve_symbol_weights
        on weights.rebalance_date = sleeve_symbol_weights.rebalance_date
        and weights.symbol = sleeve_symbol_weights.symbol
    inner join sleeve_scaled_book
        on sleeve_symbol_weights.first_held_session = sleeve_scaled_book.date

),

final as (

    select * from book_scaled
    union all
    select * from sleeves_scaled

)

select * from final
