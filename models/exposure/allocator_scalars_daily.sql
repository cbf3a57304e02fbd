{#-
    The scalar on the book each recorded session, by the run's cadence
    (allocator_v1.cadence, macros/cadence.sql), and the close it was decided at:
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
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

sessions as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

at_rebalances as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

risk as (

    select * from {{ ref('allocator_risk_v1') }}

),

held as (

    -- a returns-only book holds the previous date's position: every date is
    -- its own rebalance
    select
        date,
        coalesce(held_rebalance_date, lag(date) over (order by date)) as held_rebalance_date,
        lag(date) over (order by date) as previous_date,
    from sessions

),

rebalance_sequence as (

    select
        rebalance_date,
        lag(rebalance_date) over (order by rebalance_date) as previous_rebalance_date,
    from at_rebalances

),

final as (

    select
        run_config.run_id,
        held.date,
        held.held_rebalance_date,
        {{ allocator.cadence_decided_at('run_config', 'held.previous_date', 'held.held_rebalance_date', 'rebalance_sequence.previous_rebalance_date') }} as scalar_decided_at,
        {{ allocator.cadence_scalar('run_config', 'risk.risk_scalar', 'at_rebalances.risk_scalar_used') }} as risk_scalar_used,
    from held
    cross join run_config
    left join at_rebalances
        on held.held_rebalance_date = at_rebalances.rebalance_date
    left join rebalance_sequence
        on held.held_rebalance_date = rebalance_sequence.rebalance_date
    left join risk
        on held.previous_date = risk.date

)

select * from final
{{ allocator.live_new_rows('date') }}
