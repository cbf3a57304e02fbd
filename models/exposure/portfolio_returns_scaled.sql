{#-
    The book after the allocator. Between rebalances the simulator holds the
    weights at target, so on session t the book holds s_t x w_k (s_t the
    scalar on the book that session, allocator_scalars_daily; w_k the weights
    of the rebalance it holds) and earns s_t x the unscaled book's gross
    return. Turnover is the change in holdings, charged at the profile's cost
    on the session it happens (macros/simulate_portfolio.sql's convention):
      sum_i |s_t w_k,i - s_(t-1) w_(k-1),i| on the first session of a
      rebalance (the book starts in cash), and |s_t - s_(t-1)| x the gross
      exposure sum_i |w_k,i| on the others (the overlay's own trading, which
      only the daily cadence has). So the scaled book needs neither the
      market's returns nor the strategy, only the published unscaled book and
      its weights; in mode off it equals the unscaled book.

    A returns-only portfolio (no weights) holds a gross exposure of 1: its
    overlay turnover is |s_t - s_(t-1)|, and it starts invested as the
    unscaled book does.
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

weights as (

    select * from {{ ref('weights_raw') }}

),

sessions as (

    select
        unscaled.date,
        unscaled.held_rebalance_date is null as is_returns_only,
        daily_scalars.held_rebalance_date,
        lag(daily_scalars.held_rebalance_date) over (order by unscaled.date) as previous_held_rebalance_date,
        daily_scalars.risk_scalar_used,
        lag(daily_scalars.risk_scalar_used) over (order by unscaled.date) as previous_risk_scalar_used,
        unscaled.gross_return as unscaled_gross_return,
    from unscaled
    inner join daily_scalars
        on unscaled.date = daily_scalars.date

),

first_sessions as (

    -- a weights book's sessions that open a new rebalance's weights
    select * from sessions
    where not is_returns_only
        and previous_held_rebalance_date is distinct from held_rebalance_date

),

first_session_positions as (

    select first_sessions.date, weights.symbol, first_sessions.risk_scalar_used * weights.weight as new_position, 0.0 as old_position,
    from first_sessions
    inner join weights
        on weights.rebalance_date = first_sessions.held_rebalance_date
    union all
    select first_sessions.date, weights.symbol, 0.0, first_sessions.previous_risk_scalar_used * weights.weight,
    from first_sessions
    inner join weights
        on weights.rebalance_date = first_sessions.previous_held_rebalance_date

),

first_session_turnover as (

    select date, sum(abs(new_position - old_position)) as turnover,
    from (
        select date, symbol, sum(new_position) as new_position, sum(old_position) as old_position,
        from first_session_positions
        group by date, symbol
    ) as netted
    group by date

),

gross_exposure as (

    select rebalance_date, sum(abs(weight)) as gross_exposure,
    from weights
    group by rebalance_date

),

priced as (

    select
        sessions.date,
        sessions.held_rebalance_date,
        sessions.risk_scalar_used,
        sessions.unscaled_gross_return * sessions.risk_scalar_used as gross_return,
        case
            when sessions.is_returns_only
                then abs(sessions.risk_scalar_used - coalesce(sessions.previous_risk_scalar_used, sessions.risk_scalar_used))
            when first_session_turnover.date is not null then first_session_turnover.turnover
            when sessions.previous_held_rebalance_date = sessions.held_rebalance_date
                then abs(sessions.risk_scalar_used - sessions.previous_risk_scalar_used) * coalesce(gross_exposure.gross_exposure, 0.0)
            else 0.0
        end as turnover,
        run_config.transaction_cost_bps,
    from sessions
    cross join run_config
    left join first_session_turnover
        on sessions.date = first_session_turnover.date
    left join gross_exposure
        on sessions.held_rebalance_date = gross_exposure.rebalance_date

),

final as (

    select
        run_config.run_id,
        priced.date,
        priced.held_rebalance_date,
        priced.risk_scalar_used,
        priced.gross_return,
        priced.turnover,
        priced.turnover * priced.transaction_cost_bps / 10000.0 as transaction_cost,
        priced.gross_return - priced.turnover * priced.transaction_cost_bps / 10000.0 as net_return,
    from priced
    cross join run_config

)

select * from final
