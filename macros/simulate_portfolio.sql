{#-
    The execution simulator, shared by the unscaled book (execution layer) and
    the scaled book (allocator exposure layer) so both are priced identically.

    Conventions (documented in models/execution/_execution__models.yml):
    - weights decided at the close of rebalance date t earn the returns of the
      sessions after t, up to and including the next rebalance date;
    - weights are held at target between rebalances (no drift);
    - turnover at rebalance k is sum |w_k - w_{k-1}|, with w before the first
      recorded rebalance = 0 (the book starts in cash), and its cost
      (turnover * bps / 10000) is charged on the first session the new weights
      earn, i.e. inside the return of the period it was paid for;
    - a symbol without a return on a session contributes nothing that day;
      its gap return, measured from its last close, is earned when it trades.

    weights_relation  (rebalance_date, symbol, weight) for the recorded rebalances
    returns_relation  (date, symbol, simple_return)
    holdings_relation (date, held_rebalance_date, is_first_session_held) for recorded sessions
    run_config_relation  the run's one-row configuration (transaction_cost_bps)
    Produces CTEs ending in `simulated` with
    (date, held_rebalance_date, gross_return, turnover, transaction_cost, net_return).
-#}
{% macro simulate_portfolio(weights_relation, returns_relation, holdings_relation, run_config_relation) %}
    sim_rebalance_sequence as (
        select
            rebalance_date,
            lead(rebalance_date) over (order by rebalance_date) as next_rebalance_date,
        from (
            select distinct held_rebalance_date as rebalance_date from {{ holdings_relation }}
        ) as rebalance_dates
    ),

    sim_weight_changes as (
        select weights.rebalance_date, weights.symbol, weights.weight as new_weight, 0.0 as old_weight,
        from {{ weights_relation }} as weights
        union all
        select sequence.next_rebalance_date, weights.symbol, 0.0, weights.weight,
        from {{ weights_relation }} as weights
        inner join sim_rebalance_sequence as sequence
            on weights.rebalance_date = sequence.rebalance_date
        where sequence.next_rebalance_date is not null
    ),

    sim_turnover as (
        select
            rebalance_date,
            sum(abs(new_weight - old_weight)) as turnover,
        from (
            select rebalance_date, symbol, sum(new_weight) as new_weight, sum(old_weight) as old_weight,
            from sim_weight_changes
            group by rebalance_date, symbol
        ) as netted
        group by rebalance_date
    ),

    sim_gross as (
        select
            holdings.date,
            holdings.held_rebalance_date,
            holdings.is_first_session_held,
            coalesce(sum(weights.weight * returns.simple_return), 0.0) as gross_return,
        from {{ holdings_relation }} as holdings
        left join {{ weights_relation }} as weights
            on weights.rebalance_date = holdings.held_rebalance_date
        left join {{ returns_relation }} as returns
            on returns.date = holdings.date
            and returns.symbol = weights.symbol
        group by holdings.date, holdings.held_rebalance_date, holdings.is_first_session_held
    ),

    simulated as (
        select
            sim_gross.date,
            sim_gross.held_rebalance_date,
            sim_gross.gross_return,
            case when sim_gross.is_first_session_held then coalesce(sim_turnover.turnover, 0.0) else 0.0 end as turnover,
            case when sim_gross.is_first_session_held then coalesce(sim_turnover.turnover, 0.0) else 0.0 end
                * run_config.transaction_cost_bps / 10000.0 as transaction_cost,
            sim_gross.gross_return
                - case when sim_gross.is_first_session_held then coalesce(sim_turnover.turnover, 0.0) else 0.0 end
                * run_config.transaction_cost_bps / 10000.0 as net_return,
        from sim_gross
        cross join {{ run_config_relation }} as run_config
        left join sim_turnover
            on sim_gross.held_rebalance_date = sim_turnover.rebalance_date
    )
{% endmacro %}
