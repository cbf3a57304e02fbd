{#- The recorded unscaled book of the current run, numbered: "observation n"
    in every state window means the n-th recorded daily return, counted from
    start. Nothing before start is used, so a feature never depends on
    history the run did not record. -#}
with portfolio_returns as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

final as (

    select
        date,
        row_number() over (order by date) as observation_index,
        net_return,
    from portfolio_returns

)

select * from final
