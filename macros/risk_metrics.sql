{#-
    Tail and downside risk of one daily return series, on empyrical's
    conventions (empyrical-reloaded; pyfolio's tear sheet for skew and
    kurtosis), so the figures can be checked against it to 1e-10:
    * downside_vol = sqrt(mean(min(r, 0)^2)) x sqrt(sessions a year): every
      day counts, a gain counts as 0 (empyrical.downside_risk);
    * sortino = mean(r - rf) x sessions a year / the downside vol of r - rf
      (empyrical's required_return = the day's risk-free rate, rf, of
      risk_free_column; none: 0, and the denominator is downside_vol);
    * skew = m3 / m2^1.5 and kurtosis = m4 / m2^2 - 3 (excess) with population
      central moments (scipy.stats.skew / kurtosis, bias=True);
    * value_at_risk_95 = the 5th percentile, linearly interpolated
      (numpy.percentile, which quantile_cont matches), a return (negative
      for a loss) of one day; quantstats.value_at_risk is instead parametric
      (mean - 1.65 x stddev, normal), so it differs on fat tails;
    * conditional_value_at_risk_95 = the mean of the floor((n - 1) x 0.05) + 1
      worst days (empyrical.conditional_value_at_risk's partition);
      quantstats.cvar averages the days below its parametric VaR instead.
    Null returns are left out. Produces CTEs ending in `<prefix>_risk`, one
    row (a build holds one run), also when the series is empty.
-#}
{% macro risk_metrics(daily_relation, return_column, prefix, risk_free_column=none) %}
    {{ prefix }}_series as (

    select
        {{ return_column }} as daily_return,
        {{ return_column }} - {{ risk_free_column or '0.0' }} as daily_excess_return,
    from {{ daily_relation }}
    where {{ return_column }} is not null

),

{{ prefix }}_mean as (

    select
        count(*) as return_days,
        avg(daily_return) as mean_return,
        avg(daily_excess_return) as mean_excess_return,
    from {{ prefix }}_series

),

{{ prefix }}_moments as (

    select
        avg(power({{ prefix }}_series.daily_return - {{ prefix }}_mean.mean_return, 2)) as m2,
        avg(power({{ prefix }}_series.daily_return - {{ prefix }}_mean.mean_return, 3)) as m3,
        avg(power({{ prefix }}_series.daily_return - {{ prefix }}_mean.mean_return, 4)) as m4,
        sqrt(avg(power(least({{ prefix }}_series.daily_return, 0), 2))) * sqrt({{ allocator.sessions_per_year() }}) as downside_vol,
        sqrt(avg(power(least({{ prefix }}_series.daily_excess_return, 0), 2))) * sqrt({{ allocator.sessions_per_year() }}) as excess_downside_vol,
        quantile_cont({{ prefix }}_series.daily_return, {{ allocator.tail_cutoff() }}) as value_at_risk_95,
    from {{ prefix }}_series
    cross join {{ prefix }}_mean

),

{{ prefix }}_ranked as (

    select
        daily_return,
        row_number() over (order by daily_return) as worst_rank,
    from {{ prefix }}_series

),

{{ prefix }}_tail as (

    select avg({{ prefix }}_ranked.daily_return) as conditional_value_at_risk_95,
    from {{ prefix }}_ranked
    cross join {{ prefix }}_mean
    where {{ prefix }}_ranked.worst_rank <= floor(({{ prefix }}_mean.return_days - 1) * {{ allocator.tail_cutoff() }}) + 1

),

{{ prefix }}_risk as (

    select
        {{ prefix }}_mean.return_days,
        {{ prefix }}_moments.downside_vol,
        case
            when {{ prefix }}_moments.excess_downside_vol > 0
                then {{ prefix }}_mean.mean_excess_return * {{ allocator.sessions_per_year() }} / {{ prefix }}_moments.excess_downside_vol
        end as sortino,
        case when {{ prefix }}_moments.m2 > 0 then {{ prefix }}_moments.m3 / power({{ prefix }}_moments.m2, 1.5) end as skew,
        case when {{ prefix }}_moments.m2 > 0 then {{ prefix }}_moments.m4 / power({{ prefix }}_moments.m2, 2) - 3 end as kurtosis,
        {{ prefix }}_moments.value_at_risk_95,
        {{ prefix }}_tail.conditional_value_at_risk_95,
    from {{ prefix }}_mean
    cross join {{ prefix }}_moments
    cross join {{ prefix }}_tail

)
{% endmacro %}

{#- The tail probability of VaR and CVaR: the 95% level. -#}
{% macro tail_cutoff() -%}
    {{ return(0.05) }}
{%- endmacro %}

{#- Calmar ratio (empyrical): CAGR over the depth of the worst drawdown,
    null when the book never fell below a peak. -#}
{% macro calmar_ratio(cagr, max_drawdown) -%}
    case when {{ max_drawdown }} < 0 then {{ cagr }} / -({{ max_drawdown }}) end
{%- endmacro %}
