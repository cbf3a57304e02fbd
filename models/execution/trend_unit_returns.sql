{#- The trend sleeve's "units": each symbol's daily return contribution to
    the trend sleeve on the recorded sessions (int_holding_contributions),
    the input of trend breadth. -#}
with trend_holdings as (

    select * from {{ ref('int_holding_contributions') }}
    where is_recorded and sleeve = 'trend'

),

final as (

    select
        run_id,
        date,
        symbol,
        held_weight,
        contribution as unit_return,
    from trend_holdings

)

select * from final
