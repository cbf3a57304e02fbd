{#-
    The baseline's unscaled book as a sweep prices it, one row per session,
    with the close each cadence decides the session's scalar at
    (macros/scalar_delivery.sql, the rule a run's allocator_scalars_daily
    applies): every configuration's scalar reaches the book by it.
-#}
with sessions as (

    select * from {{ ref('stg_tuning__sessions') }}

),

rebalances as (

    select * from {{ ref('stg_tuning__rebalances') }}

),

{{ allocator.scalar_decisions('sessions', 'rebalances') }},

final as (

    select
        sessions.date,
        sessions.held_rebalance_date,
        sessions.gross_return,
        sessions.turnover,
        scalar_decisions.decided_at_rebalance_lagged,
        scalar_decisions.decided_at_rebalance,
        scalar_decisions.decided_at_daily,
    from sessions
    inner join scalar_decisions
        on sessions.date = scalar_decisions.date

)

select * from final
