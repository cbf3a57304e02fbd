{#-
    The book after the allocator. Between rebalances the simulator holds
    weights at target, so the scaled book's gross return on a session is the
    unscaled book's times the scalar used for the weights it holds; turnover
    and its cost follow the scaled weights (turnover at rebalance k is
    sum |s_k w_k - s_(k-1) w_(k-1)|, charged on the first session the new
    weights earn, as in macros/simulate_portfolio.sql). So the scaled book
    needs neither the market's returns nor the strategy, only the published
    unscaled book, and in mode off it equals it.

    A returns-only portfolio (no weights) counts every recorded date as a
    rebalance: the return of a date is the unscaled return x the scalar used
    at the previous date's rebalance (the position held that day); the first
    date uses apply_missing_scalar_as (1.0 in mode off). Costs cannot be
    re-priced without holdings: turnover and cost stay as in the input (0).
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

scalars as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled_weights as (

    select * from {{ ref('weights_scaled') }}

),

held as (

    -- the rebalance whose scalar the day's position carries
    select
        *,
        coalesce(held_rebalance_date, lag(date) over (order by date)) as scalar_date,
        date = min(date) over (partition by held_rebalance_date) and held_rebalance_date is not null as is_first_session_held,
    from unscaled

),

rebalance_sequence as (

    select
        rebalance_date,
        lead(rebalance_date) over (order by rebalance_date) as next_rebalance_date,
    from (select distinct held_rebalance_date as rebalance_date from held where held_rebalance_date is not null) as dates

),

weight_changes as (

    select rebalance_date, symbol, weight_scaled as new_weight, 0.0 as old_weight,
    from scaled_weights
    union all
    select sequence.next_rebalance_date, weights.symbol, 0.0, weights.weight_scaled,
    from scaled_weights as weights
    inner join rebalance_sequence as sequence
        on weights.rebalance_date = sequence.rebalance_date
    where sequence.next_rebalance_date is not null

),

scaled_turnover as (

    select rebalance_date, sum(abs(new_weight - old_weight)) as turnover,
    from (
        select rebalance_date, symbol, sum(new_weight) as new_weight, sum(old_weight) as old_weight,
        from weight_changes
        group by rebalance_date, symbol
    ) as netted
    group by rebalance_date

),

with_scalar as (

    select
        held.date,
        held.held_rebalance_date,
        held.scalar_date,
        held.is_first_session_held,
        held.turnover as unscaled_turnover,
        held.transaction_cost as unscaled_transaction_cost,
        held.gross_return as unscaled_gross_return,
        held.net_return as unscaled_net_return,
        coalesce(
            scalars.risk_scalar_used,
            case when run_config.allocator_mode = 'off' then 1.0 else run_config.apply_missing_scalar_as end
        ) as risk_scalar_used,
        scaled_turnover.turnover as rebalance_turnover,
        run_config.transaction_cost_bps,
    from held
    cross join run_config
    left join scalars
        on held.scalar_date = scalars.rebalance_date
    left join scaled_turnover
        on held.held_rebalance_date = scaled_turnover.rebalance_date

),

priced as (

    select
        date,
        -- a returns-only book holds the previous date's position
        coalesce(held_rebalance_date, scalar_date) as held_rebalance_date,
        risk_scalar_used,
        unscaled_gross_return * risk_scalar_used as gross_return,
        case
            when held_rebalance_date is null then unscaled_turnover
            when is_first_session_held then coalesce(rebalance_turnover, 0.0)
            else 0.0
        end as turnover,
        case
            when held_rebalance_date is null then unscaled_transaction_cost
            when is_first_session_held then coalesce(rebalance_turnover, 0.0) * transaction_cost_bps / 10000.0
            else 0.0
        end as transaction_cost,
        held_rebalance_date is null as is_returns_only,
        unscaled_net_return,
    from with_scalar

),

final as (

    select
        run_config.run_id,
        priced.date,
        priced.held_rebalance_date,
        priced.risk_scalar_used,
        priced.gross_return,
        priced.turnover,
        priced.transaction_cost,
        case
            when priced.is_returns_only then priced.unscaled_net_return * priced.risk_scalar_used
            else priced.gross_return - priced.transaction_cost
        end as net_return,
    from priced
    cross join run_config

)

select * from final
