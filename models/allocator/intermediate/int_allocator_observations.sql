{#- The unscaled book the state is measured on, numbered: "observation n"
    in every state window means the n-th daily return, counted from the
    first warm-up session before start (allocator_state_v1_warm_up, up to
    warm_up - 1 of them), so start is the warm_up-th observation when the
    data has the history. Nothing else before start is used: a run's state
    depends on its window and that fixed warm-up, not on how far back the
    file reaches. The warm-up rows (is_warm_up) feed the windows only; the
    state publishes rows from start. -#}
with warm_up as (

    select * from {{ ref('allocator_state_v1_warm_up') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

book as (

    select date, net_return, true as is_warm_up,
    from warm_up
    union all
    select date, net_return, false as is_warm_up,
    from portfolio_returns

),

final as (

    select
        date,
        row_number() over (order by date) as observation_index,
        net_return,
        is_warm_up,
    from book

)

select * from final
