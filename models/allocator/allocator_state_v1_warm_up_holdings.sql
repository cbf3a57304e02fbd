{#- The book's holdings on the allocator's warm-up sessions
    (int_rebalance_calendar.is_warm_up, the sessions just before start):
    each sleeve's held weight per symbol and its contribution, as
    int_holding_contributions defines them for the recorded book too
    (sleeve_returns, trend_unit_returns). Inputs to the state only, never
    the run's portfolio (published so the warm-up can be audited and
    replayed, e.g. as a weights file's history). Empty for a returns-only
    book. -#}
with warm_up_holdings as (

    select * from {{ ref('int_holding_contributions') }}
    where is_warm_up

),

final as (

    select
        run_id,
        date,
        held_rebalance_date,
        sleeve,
        symbol,
        held_weight,
        contribution,
    from warm_up_holdings

)

select * from final
