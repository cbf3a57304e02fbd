{#-
    Stage 6 (var sleeve_scalars; no rows when off): the scalar on each
    sleeve of the book each recorded session, delivered by the same rule as
    the book's scalar (macros/scalar_delivery.sql: the run's cadence, its
    decision close, apply_missing_scalar_as where none was decided, 1.0 in
    mode off), read from the sleeve's own series
    (allocator_risk_v1_sleeve_scalars). In mode compute this is exactly how
    allocator_scalars_daily delivers the book scalar; a precomputed run also
    delivers its own sleeve series (a scaled run of a like-for-like
    baseline computes the same one), since a baseline stores no sleeve
    scalars it applies.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

at_rebalances as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

sleeve_risk as (

    select * from {{ ref('allocator_risk_v1_sleeve_scalars') }}

),

sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

sessions as (

    select
        unscaled.date,
        unscaled.held_rebalance_date,
    from unscaled
    cross join run_config
    where run_config.sleeve_scalars <> 'off'

),

rebalances as (

    select rebalance_date, from at_rebalances

),

{{ allocator.scalar_decisions('sessions', 'rebalances') }},

held_sleeves as (

    select distinct rebalance_date, sleeve, from sleeve_weights

),

decided as (

    select
        scalar_decisions.date,
        scalar_decisions.held_rebalance_date,
        held_sleeves.sleeve,
        {{ allocator.cadence_decided_at('run_config', 'scalar_decisions') }} as scalar_decided_at,
    from scalar_decisions
    cross join run_config
    inner join held_sleeves
        on scalar_decisions.held_rebalance_date = held_sleeves.rebalance_date

),

final as (

    select
        run_config.run_id,
        decided.date,
        decided.held_rebalance_date,
        decided.sleeve,
        decided.scalar_decided_at,
        {{ allocator.cadence_scalar('run_config', 'sleeve_risk.risk_scalar', 'sleeve_risk.risk_scalar') }} as sleeve_scalar_used,
    from decided
    cross join run_config
    left join sleeve_risk
        on decided.scalar_decided_at = sleeve_risk.date
        and decided.sleeve = sleeve_risk.sleeve

)

select * from final
