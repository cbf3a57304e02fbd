{#-
    The walk-forward, one row per (tuning_id, fold): at the first session of
    each test year the best admissible configuration on the expanding window
    before it (same constraints and objective as tuning_configurations; the
    defaults, config 0, when none is admissible) is applied for that year.
    Beside it, the same year for the defaults, the in-sample best (chosen on
    the whole sample, i.e. with hindsight) and the baseline's unscaled book.
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

train as (

    select * from {{ ref('tuning_walk_forward_train') }}

),

years as (

    select * from {{ ref('tuning_config_years') }}

),

configurations as (

    select * from {{ ref('tuning_configurations') }}

),

baseline_sessions as (

    select * from {{ ref('stg_tuning__sessions') }}

),

scored as (

    select
        train.*,
        {{ allocator.tuning_meets_constraints('train.') }}
            and {{ allocator.tuning_meets_min_sharpe('tuning_config.objective', 'tuning_config.min_sharpe', 'train.') }} as is_admissible,
        {{ allocator.tuning_objective_score('tuning_config.objective', 'train.') }} as objective_score,
    from train
    cross join tuning_config

),

ranked as (

    select
        *,
        row_number() over (partition by fold order by is_admissible desc, objective_score desc nulls last, config_id) as fold_rank,
        count(case when is_admissible then 1 end) over (partition by fold) as admissible_configurations,
    from scored

),

selected as (

    select
        fold,
        test_year,
        train_start,
        train_end,
        admissible_configurations,
        case when is_admissible then config_id else 0 end as chosen_config_id,
    from ranked
    where fold_rank = 1

),

in_sample as (

    select
        selected.*,
        ranked.objective_score as in_sample_objective,
        ranked.cagr as in_sample_cagr,
        ranked.sharpe as in_sample_sharpe,
        ranked.max_drawdown as in_sample_max_drawdown,
    from selected
    inner join ranked
        on selected.fold = ranked.fold
        and selected.chosen_config_id = ranked.config_id

),

hindsight as (

    select config_id, from configurations where is_chosen

),

year_returns as (

    select
        config_id,
        year,
        first_date,
        last_date,
        exp(sum_log_return) - 1 as period_return,
        (sum_return / return_days)
            / nullif(sqrt(greatest(sum_squared_return - sum_return * sum_return / return_days, 0) / (return_days - 1)), 0)
            * sqrt({{ allocator.sessions_per_year() }}) as sharpe,
    from years

),

baseline_years as (

    select year(date) as year, exp(sum(ln(1 + net_return))) - 1 as period_return,
    from baseline_sessions
    group by year(date)

),

final as (

    select
        tuning_config.tuning_id,
        in_sample.fold,
        in_sample.test_year,
        in_sample.train_start,
        in_sample.train_end,
        chosen_year.first_date as test_start,
        chosen_year.last_date as test_end,
        in_sample.admissible_configurations,
        cast(in_sample.chosen_config_id as bigint) as chosen_config_id,
        in_sample.admissible_configurations = 0 as is_default_fallback,
        in_sample.in_sample_objective,
        in_sample.in_sample_cagr,
        in_sample.in_sample_sharpe,
        in_sample.in_sample_max_drawdown,
        chosen_year.period_return as oos_return,
        chosen_year.sharpe as oos_sharpe,
        default_year.period_return as default_oos_return,
        hindsight_year.period_return as in_sample_best_oos_return,
        baseline_years.period_return as baseline_oos_return,
    from in_sample
    cross join tuning_config
    cross join hindsight
    inner join year_returns as chosen_year
        on in_sample.chosen_config_id = chosen_year.config_id
        and in_sample.test_year = chosen_year.year
    inner join year_returns as default_year
        on default_year.config_id = 0
        and in_sample.test_year = default_year.year
    inner join year_returns as hindsight_year
        on hindsight.config_id = hindsight_year.config_id
        and in_sample.test_year = hindsight_year.year
    inner join baseline_years
        on in_sample.test_year = baseline_years.year

)

select * from final
