{#-
    The six headline metrics of one daily return series (empyrical
    conventions): years = daily returns / sessions a year; volatility =
    stddev (ddof 1) x sqrt(sessions a year); Sharpe = mean / stddev x the
    same with a zero risk-free rate; CAGR = final wealth ^ (1 / years) - 1;
    wealth starts at 1.0 before the first return (so a loss on day one is a
    drawdown); months and quarters are calendar periods, compounded.
    Produces CTEs ending in `metrics`, one row per run_id.
-#}
{% macro book_metrics(daily_relation, return_column, drawdown_column) %}
    metric_periods as (

    select
        date,
        {{ return_column }},
        {{ dbt.date_trunc('month', 'date') }} as month_start,
        {{ dbt.date_trunc('quarter', 'date') }} as quarter_start,
    from {{ daily_relation }}

),

metric_months as (

    select month_start, exp(sum(ln(1 + {{ return_column }}))) - 1 as period_return,
    from metric_periods
    group by month_start

),

metric_quarters as (

    select quarter_start, exp(sum(ln(1 + {{ return_column }}))) - 1 as period_return,
    from metric_periods
    group by quarter_start

),

metric_summary as (

    select
        min(run_id) as run_id,
        min(date) as first_date,
        max(date) as last_date,
        count(*) as return_days,
        count(*) / {{ allocator.sessions_per_year() }}.0 as years,
        exp(sum(ln(1 + {{ return_column }}))) as final_wealth,
        avg({{ return_column }}) as mean_daily_return,
        stddev_samp({{ return_column }}) as daily_vol,
        min({{ drawdown_column }}) as max_drawdown,
    from {{ daily_relation }}

),

metrics as (

    select
        metric_summary.run_id,
        metric_summary.first_date,
        metric_summary.last_date,
        metric_summary.return_days,
        metric_summary.years,
        metric_summary.final_wealth,
        power(metric_summary.final_wealth, 1.0 / metric_summary.years) - 1 as cagr,
        metric_summary.daily_vol * sqrt({{ allocator.sessions_per_year() }}) as ann_vol,
        case when metric_summary.daily_vol > 0 then metric_summary.mean_daily_return / metric_summary.daily_vol * sqrt({{ allocator.sessions_per_year() }}) end as sharpe,
        metric_summary.max_drawdown,
        (select min(period_return) from metric_months) as worst_month,
        (select min(period_return) from metric_quarters) as worst_quarter,
    from metric_summary
    where metric_summary.return_days > 0

)
{% endmacro %}
