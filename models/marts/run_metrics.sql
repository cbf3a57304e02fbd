{{ config(materialized='incremental') }}
{#-
    Headline performance of each run, empyrical conventions:
    years = daily returns / 252; volatility = stddev (ddof 1) x sqrt(252);
    Sharpe = mean / stddev x sqrt(252) with a zero risk-free rate;
    CAGR = final wealth ^ (1 / years) - 1; wealth starts at 1.0 before the
    first return (so a loss on day one is a drawdown); months and quarters are
    calendar periods, compounded.
-#}
with daily as (

    select * from {{ allocator.current_run(ref('portfolio_returns')) }}

),

periods as (

    select
        date,
        portfolio_return,
        {{ dbt.date_trunc('month', 'date') }} as month_start,
        {{ dbt.date_trunc('quarter', 'date') }} as quarter_start,
    from daily

),

monthly as (

    select month_start, exp(sum(ln(1 + portfolio_return))) - 1 as period_return,
    from periods
    group by month_start

),

quarterly as (

    select quarter_start, exp(sum(ln(1 + portfolio_return))) - 1 as period_return,
    from periods
    group by quarter_start

),

summary as (

    select
        min(run_id) as run_id,
        min(date) as first_date,
        max(date) as last_date,
        count(*) as return_days,
        count(*) / 252.0 as years,
        exp(sum(ln(1 + portfolio_return))) as final_wealth,
        avg(portfolio_return) as mean_daily_return,
        stddev_samp(portfolio_return) as daily_vol,
        min(drawdown) as max_drawdown,
    from daily

),

final as (

    select
        summary.run_id,
        summary.first_date,
        summary.last_date,
        summary.return_days,
        summary.years,
        summary.final_wealth,
        power(summary.final_wealth, 1.0 / summary.years) - 1 as cagr,
        summary.daily_vol * sqrt(252) as ann_vol,
        case when summary.daily_vol > 0 then summary.mean_daily_return / summary.daily_vol * sqrt(252) end as sharpe,
        summary.max_drawdown,
        (select min(period_return) from monthly) as worst_month,
        (select min(period_return) from quarterly) as worst_quarter,
    from summary
    where summary.return_days > 0

)

select * from final
