{#- Wealth compounded from 1.0 before the first return, through each row of
    the window (empyrical's cumulative returns). -#}
{% macro wealth(return_column, window='order by date') -%}
    exp(sum(ln(1 + {{ return_column }})) over ({{ window }} rows between unbounded preceding and current row))
{%- endmacro %}


{#- Drawdown of a wealth column: wealth / max(1.0, its running max) - 1, so
    the starting 1.0 counts as a peak (0 at a high-water mark, negative
    below it). -#}
{% macro drawdown(equity_column, window='order by date') -%}
    {{ equity_column }} / greatest(1.0, max({{ equity_column }}) over ({{ window }} rows between unbounded preceding and current row)) - 1
{%- endmacro %}


{#-
    The six headline metrics of one daily return series (empyrical
    conventions): years = daily returns / sessions a year; volatility =
    stddev (ddof 1) x sqrt(sessions a year); Sharpe = mean / stddev x the
    same of the returns in excess of the risk-free rate (risk_free_column:
    each day's rate, stg_market__risk_free; none: a zero rate, as before,
    and as empyrical's and quantstats' default); CAGR = final wealth ^ (1 / years) - 1;
    wealth starts at 1.0 before the first return (so a loss on day one is a
    drawdown); months and quarters are calendar periods, compounded.
    Produces CTEs ending in `metrics`, one row per run_id, or per value of
    key_columns (several books in one relation, e.g. the controls) with
    those columns first.
-#}
{% macro book_metrics(daily_relation, return_column, drawdown_column, key_columns=[], risk_free_column=none) %}
{%- set excess = (return_column ~ ' - ' ~ risk_free_column) if risk_free_column else return_column -%}
{%- set keys = (key_columns | join(', ') ~ ', ') if key_columns else '' -%}
{%- set group_keys = ('group by ' ~ key_columns | join(', ')) if key_columns else '' -%}
    metric_periods as (

    select
        {{ keys }}date,
        {{ return_column }},
        {{ dbt.date_trunc('month', 'date') }} as month_start,
        {{ dbt.date_trunc('quarter', 'date') }} as quarter_start,
    from {{ daily_relation }}

),

metric_months as (

    select {{ keys }}month_start, exp(sum(ln(1 + {{ return_column }}))) - 1 as period_return,
    from metric_periods
    group by {{ keys }}month_start

),

metric_quarters as (

    select {{ keys }}quarter_start, exp(sum(ln(1 + {{ return_column }}))) - 1 as period_return,
    from metric_periods
    group by {{ keys }}quarter_start

),

metric_worst_months as (

    select {{ keys }}min(period_return) as worst_month,
    from metric_months
    {{ group_keys }}

),

metric_worst_quarters as (

    select {{ keys }}min(period_return) as worst_quarter,
    from metric_quarters
    {{ group_keys }}

),

metric_summary as (

    select
        {{ keys }}min(run_id) as run_id,
        min(date) as first_date,
        max(date) as last_date,
        count(*) as return_days,
        count(*) / {{ allocator.sessions_per_year() }}.0 as years,
        exp(sum(ln(1 + {{ return_column }}))) as final_wealth,
        avg({{ return_column }}) as mean_daily_return,
        stddev_samp({{ return_column }}) as daily_vol,
        avg({{ excess }}) as mean_daily_excess_return,
        stddev_samp({{ excess }}) as daily_excess_vol,
        min({{ drawdown_column }}) as max_drawdown,
    from {{ daily_relation }}
    {{ group_keys }}

),

metrics as (

    select
        {%- for column in key_columns %}
        metric_summary.{{ column }},
        {%- endfor %}
        metric_summary.run_id,
        metric_summary.first_date,
        metric_summary.last_date,
        metric_summary.return_days,
        metric_summary.years,
        metric_summary.final_wealth,
        power(metric_summary.final_wealth, 1.0 / metric_summary.years) - 1 as cagr,
        metric_summary.daily_vol * sqrt({{ allocator.sessions_per_year() }}) as ann_vol,
        case when metric_summary.daily_excess_vol > 0 then metric_summary.mean_daily_excess_return / metric_summary.daily_excess_vol * sqrt({{ allocator.sessions_per_year() }}) end as sharpe,
        metric_summary.max_drawdown,
        metric_worst_months.worst_month,
        metric_worst_quarters.worst_quarter,
    from metric_summary
    {%- if key_columns %}
    inner join metric_worst_months
        using ({{ key_columns | join(', ') }})
    inner join metric_worst_quarters
        using ({{ key_columns | join(', ') }})
    {%- else %}
    cross join metric_worst_months
    cross join metric_worst_quarters
    {%- endif %}
    where metric_summary.return_days > 0

)
{% endmacro %}
