{#-
    The scalar on the book each recorded session, by the run's cadence
    (allocator_v1.cadence), and the close it was decided at
    (macros/scalar_delivery.sql, the one definition of delivery):
      rebalance_lagged  the seeds': the scalar used at the held rebalance,
                        decided at the rebalance before it;
      rebalance         the scalar used at the held rebalance, decided at that
                        rebalance's close;
      daily             the risk scalar decided at the previous session's
                        close (apply_missing_scalar_as before the series
                        starts), so a stress reaches the book one session
                        after the allocator sees it.
    Every cadence is causal: the scalar earning on session t was decided at a
    close before t from the unscaled book's data up to that close. In mode
    off the book is not scaled (1.0).
-#}
{#- incremental: a live update computes only the rows from its cut on
    (macros/live_update.sql). Delivery lags over sessions and rebalances,
    so of the stored rows the input keeps only what the first new session's
    lags read: the last session before the cut, and the rebalances from the
    one before the earliest held rebalance on. -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

at_rebalances as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

risk as (

    select * from {{ ref('allocator_risk_v1') }}

),

live_update as (

    select * from {{ ref('stg_live__update') }}

),

session_lookback as (

    -- outside a live update live_cut is null and every session is read
    select
        live_update.live_cut,
        max(unscaled.date) filter (where unscaled.date < live_update.live_cut) as last_stored_session,
    from live_update
    cross join unscaled
    group by live_update.live_cut

),

sessions as (

    select
        unscaled.date,
        unscaled.held_rebalance_date,
    from unscaled
    cross join session_lookback
    where session_lookback.live_cut is null
        or unscaled.date >= coalesce(session_lookback.last_stored_session, session_lookback.live_cut)

),

rebalance_lookback as (

    -- the rebalance before the earliest one a session read holds (a
    -- returns-only session holds the previous session)
    select max(rebalance_date) as previous_rebalance_date,
    from at_rebalances
    where rebalance_date < (select min(coalesce(held_rebalance_date, date)) from sessions)

),

rebalances as (

    select at_rebalances.rebalance_date,
    from at_rebalances
    cross join session_lookback
    cross join rebalance_lookback
    where session_lookback.live_cut is null
        or rebalance_lookback.previous_rebalance_date is null
        or at_rebalances.rebalance_date >= rebalance_lookback.previous_rebalance_date

),

{{ allocator.scalar_decisions('sessions', 'rebalances') }},

final as (

    select
        run_config.run_id,
        scalar_decisions.date,
        scalar_decisions.held_rebalance_date,
        {{ allocator.cadence_decided_at('run_config', 'scalar_decisions') }} as scalar_decided_at,
        {{ allocator.cadence_scalar('run_config', 'risk.risk_scalar', 'at_rebalances.risk_scalar_used') }} as risk_scalar_used,
    from scalar_decisions
    cross join run_config
    left join at_rebalances
        on scalar_decisions.held_rebalance_date = at_rebalances.rebalance_date
    left join risk
        on scalar_decisions.decided_at_daily = risk.date

)

select * from final
{{ allocator.live_new_rows('date') }}
