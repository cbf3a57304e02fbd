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

{{ allocator.scalar_decisions('sessions', 'at_rebalances') }},

final as (

    select
        run_config.run_id,
        scalar_decisions.date,
        scalar_decisions.held_rebalance_date,
        case run_config.cadence
            when 'rebalance_lagged' then scalar_decisions.decided_at_rebalance_lagged
            when 'rebalance' then scalar_decisions.decided_at_rebalance
            else scalar_decisions.decided_at_daily
        end as scalar_decided_at,
        case
            when run_config.allocator_mode = 'off' then 1.0
            when run_config.cadence = 'daily'
                then coalesce(risk.risk_scalar, run_config.apply_missing_scalar_as)
            else coalesce(at_rebalances.risk_scalar_used, run_config.apply_missing_scalar_as)
        end as risk_scalar_used,
    from scalar_decisions
    cross join run_config
    left join at_rebalances
        on scalar_decisions.held_rebalance_date = at_rebalances.rebalance_date
    left join risk
        on scalar_decisions.decided_at_daily = risk.date

)

select * from final
