{#-
    What the desk trades after the run's last close: one row per symbol of
    the weights the book holds on the next session (the rebalance decided at
    the last close, or the one already held), unscaled and scaled by the
    scalar the run's cadence puts on that session (macros/scalar_delivery.sql,
    the rule of allocator_scalars_daily), next to what the book holds today and
    the change. The next session is the next weekday (the data has no
    calendar beyond its last close). A returns-only book has no holdings:
    one row, symbol '(book)', weight 1. Built for every run; a live run's
    update exports it (next_session_targets.csv / .json).
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

weights as (

    select * from {{ ref('weights_raw') }}

),

daily as (

    select * from {{ ref('allocator_scalars_daily') }}

),

at_rebalances as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

risk as (

    select * from {{ ref('allocator_risk_v1') }}

),

regimes as (

    select * from {{ ref('allocator_regime_v1') }}

),

last_close as (

    select
        daily.date as as_of_date,
        daily.held_rebalance_date as held_today,
        daily.risk_scalar_used as risk_scalar_today,
        -- every recorded rebalance has its row of scalars
        daily.date in (select rebalance_date from at_rebalances) as rebalances_at_close,
    from daily
    qualify daily.date = max(daily.date) over ()

),

next_session as (

    select
        last_close.*,
        last_close.as_of_date
            + case dayofweek(last_close.as_of_date) when 5 then 3 when 6 then 2 else 1 end as next_session_date,
        -- a returns-only book is its own rebalance every session
        case
            when run_config.portfolio_source = 'returns_file' or last_close.rebalances_at_close then last_close.as_of_date
            else last_close.held_today
        end as held_next,
    from last_close
    cross join run_config

),

next_sessions as (

    -- the last close and the next session, as delivery reads a run's sessions
    select as_of_date as date, held_today as held_rebalance_date,
    from next_session
    union all
    select next_session_date, held_next,
    from next_session

),

{{ allocator.scalar_decisions('next_sessions', 'at_rebalances') }},

decided as (

    select
        next_session.*,
        {{ allocator.cadence_scalar('run_config', 'risk.risk_scalar', 'at_rebalances.risk_scalar_used') }} as risk_scalar_next,
        {{ allocator.cadence_decided_at('run_config', 'scalar_decisions') }} as scalar_decided_at,
        regimes.regime,
        regimes.regime_changed,
        regimes.days_in_regime,
    from next_session
    inner join scalar_decisions
        on scalar_decisions.date = next_session.next_session_date
    cross join run_config
    left join risk
        on risk.date = scalar_decisions.decided_at_daily
    left join at_rebalances
        on at_rebalances.rebalance_date = scalar_decisions.held_rebalance_date
    left join regimes
        on regimes.date = next_session.as_of_date

),

target_weights as (

    select
        weights.symbol,
        weights.weight,
    from weights
    inner join decided
        on weights.rebalance_date = decided.held_next

),

held_weights as (

    select
        weights.symbol,
        weights.weight,
    from weights
    inner join decided
        on weights.rebalance_date = decided.held_today

),

positions as (

    -- each symbol held today or on the next session
    select
        coalesce(target_weights.symbol, held_weights.symbol) as symbol,
        coalesce(target_weights.weight, 0.0) as target_weight_unscaled,
        coalesce(held_weights.weight, 0.0) as held_weight_unscaled,
    from target_weights
    full outer join held_weights
        on target_weights.symbol = held_weights.symbol
    where (select portfolio_source from run_config) <> 'returns_file'
    union all
    select '(book)', 1.0, 1.0,
    where (select portfolio_source from run_config) = 'returns_file'

),

final as (

    select
        run_config.run_id,
        decided.as_of_date,
        decided.next_session_date,
        decided.regime,
        coalesce(decided.regime_changed, false) as regime_changed,
        decided.days_in_regime,
        decided.held_next as target_rebalance_date,
        decided.rebalances_at_close,
        decided.scalar_decided_at,
        decided.risk_scalar_next as risk_scalar,
        decided.risk_scalar_today,
        decided.risk_scalar_next - decided.risk_scalar_today as risk_scalar_change,
        positions.symbol,
        positions.target_weight_unscaled,
        positions.target_weight_unscaled * decided.risk_scalar_next as target_weight_scaled,
        positions.held_weight_unscaled * decided.risk_scalar_today as held_weight_scaled,
        positions.target_weight_unscaled * decided.risk_scalar_next
            - positions.held_weight_unscaled * decided.risk_scalar_today as weight_change,
        sum(abs(positions.target_weight_unscaled)) over () as gross_exposure_unscaled,
        sum(abs(positions.target_weight_unscaled * decided.risk_scalar_next)) over () as gross_exposure,
        sum(abs(positions.held_weight_unscaled * decided.risk_scalar_today)) over () as gross_exposure_today,
    from decided
    cross join positions
    cross join run_config
    order by positions.symbol

)

select * from final
