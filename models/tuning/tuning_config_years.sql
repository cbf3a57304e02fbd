{#-
    Per configuration and calendar year: the additive pieces of its metrics
    and behaviour, so the walk-forward can measure any expanding window
    (every session before a re-selection date) by running sums instead of
    rescanning the sessions once per fold. The drawdown is measured on the
    whole history from its start, which is what an expanding window's own
    drawdown is: the minimum to a year's end is the window's MaxDD.
-#}
with drawdowns as (

    select * from {{ ref('tuning_session_drawdowns') }}

),

final as (

    select
        config_id,
        year(date) as year,
        min(date) as first_date,
        max(date) as last_date,
        count(*) as return_days,
        sum(net_return) as sum_return,
        sum(net_return * net_return) as sum_squared_return,
        sum(ln(1 + net_return)) as sum_log_return,
        min(drawdown) as min_drawdown,
        count(regime_level) as classified_days,
        count(case when regime_level = 0 then 1 end) as normal_days,
        count(case when regime_level = 1 then 1 end) as elevated_days,
        count(case when regime_level = 2 then 1 end) as stress_days,
        count(case when regime_level = 3 then 1 end) as crisis_days,
        count(case when regime_level <> previous_level then 1 end) as regime_changes,
        count(distinct case when regime_level is not null then date_trunc('month', date) end) as months,
        count(distinct case when regime_level >= 2 then date_trunc('month', date) end) as months_flagged,
    from drawdowns
    group by config_id, year(date)

)

select * from final
