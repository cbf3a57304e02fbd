{#- Each sleeve's daily contribution to the book's gross return (costs are
    charged at book level): the sum of its symbols' contributions
    (int_holding_contributions) on the recorded sessions. The sleeves add up
    to portfolio_returns_unscaled.gross_return. -#}
with holdings as (

    select * from {{ ref('int_holding_contributions') }}
    where is_recorded

),

final as (

    select
        run_id,
        date,
        sleeve,
        sum(contribution) as sleeve_return,
    from holdings
    group by run_id, date, sleeve

)

select * from final
