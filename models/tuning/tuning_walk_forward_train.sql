{#-
    For each walk-forward fold (a calendar year tested out of sample, from
    the first year with tuning_min_train_years full years before it) and
    each configuration: its metrics and behaviour on the expanding window of
    every session before that year, from the running sums of
    tuning_config_years, so a fold's selection sees nothing of its year.
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

years as (

    select * from {{ ref('tuning_config_years') }}

),

calendar as (

    select distinct year, from years

),

folds as (

    select
        row_number() over (order by calendar.year) as fold,
        calendar.year as test_year,
    from calendar
    cross join tuning_config
    where calendar.year >= (select min(year) from calendar) + tuning_config.min_train_years

),

window_sums as (

    select
        folds.fold,
        folds.test_year,
        years.config_id,
        min(years.first_date) as train_start,
        max(years.last_date) as train_end,
        sum(years.return_days) as return_days,
        sum(years.sum_return) as sum_return,
        sum(years.sum_squared_return) as sum_squared_return,
        sum(years.sum_log_return) as sum_log_return,
        min(years.min_drawdown) as max_drawdown,
        sum(years.classified_days) as classified_days,
        sum(years.normal_days) as normal_days,
        sum(years.elevated_days) as elevated_days,
        sum(years.stress_days) as stress_days,
        sum(years.crisis_days) as crisis_days,
        sum(years.regime_changes) as regime_changes,
        sum(years.months) as months,
        sum(years.months_flagged) as months_flagged,
    from folds
    inner join years
        on years.year < folds.test_year
    group by folds.fold, folds.test_year, years.config_id

),

final as (

    select
        fold,
        test_year,
        config_id,
        train_start,
        train_end,
        return_days,
        power(exp(sum_log_return), {{ allocator.sessions_per_year() }}.0 / return_days) - 1 as cagr,
        (sum_return / return_days)
            / nullif(sqrt(greatest(sum_squared_return - sum_return * sum_return / return_days, 0) / (return_days - 1)), 0)
            * sqrt({{ allocator.sessions_per_year() }}) as sharpe,
        max_drawdown,
        normal_days / classified_days as share_normal,
        elevated_days / classified_days as share_elevated,
        stress_days / classified_days as share_stress,
        crisis_days / classified_days as share_crisis,
        regime_changes / (classified_days / {{ allocator.sessions_per_year() }}.0) as transitions_per_year,
        months_flagged / months as share_months_flagged,
    from window_sums

)

select * from final
