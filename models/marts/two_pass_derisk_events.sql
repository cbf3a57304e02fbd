{#-
    The top 10 de-risk events of every paired scaled run: the rebalances with
    the lowest scalar actually used, materially below 1 (allocator_scalars_at_rebalances.is_scaled),
    deepest first and earlier first on ties, with the regime at the rebalance
    and how far the baseline book was below its peak that day (to judge
    whether de-risking met real stress).
-#}
with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

scalars as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns') }}

),

derisked as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        scalars.rebalance_date,
        scalars.risk_scalar_used,
        scalars.regime,
        row_number() over (
            partition by pairs.scaled_run_id
            order by scalars.risk_scalar_used, scalars.rebalance_date
        ) as event_rank,
    from pairs
    inner join scalars
        on pairs.scaled_run_id = scalars.run_id
    where scalars.is_scaled

),

final as (

    select
        derisked.scaled_run_id,
        derisked.event_rank,
        derisked.rebalance_date,
        derisked.risk_scalar_used,
        derisked.regime,
        -- the baseline's book is the scaled run's unscaled book
        baseline_returns.drawdown_unscaled as baseline_drawdown,
    from derisked
    left join portfolio_returns as baseline_returns
        on derisked.scaled_run_id = baseline_returns.run_id
        and derisked.rebalance_date = baseline_returns.date
    where derisked.event_rank <= 10

)

select * from final
