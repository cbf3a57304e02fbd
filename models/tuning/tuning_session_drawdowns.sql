{#- Every configuration's wealth drawdown and previous regime per session,
    measured once for both the whole-sample metrics and the yearly pieces
    of the walk-forward (window passes over sessions x configurations are
    the sweep's costliest SQL). -#}
with sessions as (

    select * from {{ ref('tuning_sessions') }}

),

wealth as (

    select
        config_id,
        date,
        net_return,
        turnover,
        risk_scalar_used,
        regime_level,
        lag(regime_level) over (partition by config_id order by date) as previous_level,
        {{ allocator.wealth('net_return', 'partition by config_id order by date') }} as equity,
    from sessions

),

final as (

    select
        config_id,
        date,
        net_return,
        turnover,
        risk_scalar_used,
        regime_level,
        previous_level,
        {{ allocator.drawdown('equity', 'partition by config_id order by date') }} as drawdown,
    from wealth

)

select * from final
