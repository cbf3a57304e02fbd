{#-
    The four books the tuning summary compares, on the walk-forward's
    out-of-sample sessions only, one row per (book, session):
    walk_forward (each year, the configuration chosen before it),
    in_sample_best (the configuration chosen on the whole sample: hindsight),
    defaults (config 0: the baseline's own governor) and baseline_unscaled
    (the baseline's book without the governor).
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

sessions as (

    select * from {{ ref('tuning_sessions') }}

),

folds as (

    select * from {{ ref('tuning_walk_forward') }}

),

configurations as (

    select * from {{ ref('tuning_configurations') }}

),

baseline_sessions as (

    select * from {{ ref('stg_tuning__sessions') }}

),

out_of_sample as (

    select min(test_start) as first_date, from folds

),

walk_forward as (

    select 'walk_forward' as book, sessions.date, sessions.net_return,
    from folds
    inner join sessions
        on folds.chosen_config_id = sessions.config_id
        and year(sessions.date) = folds.test_year

),

fixed_books as (

    select 'in_sample_best' as book, sessions.date, sessions.net_return,
    from sessions
    inner join configurations
        on sessions.config_id = configurations.config_id
    where configurations.is_chosen

    union all

    select 'defaults' as book, sessions.date, sessions.net_return,
    from sessions
    where sessions.config_id = 0

    union all

    select 'baseline_unscaled' as book, baseline_sessions.date, baseline_sessions.net_return,
    from baseline_sessions

),

books as (

    select * from walk_forward

    union all

    select fixed_books.*,
    from fixed_books
    cross join out_of_sample
    where fixed_books.date >= out_of_sample.first_date

),

final as (

    select
        tuning_config.tuning_id as run_id,
        books.book,
        books.date,
        books.net_return,
    from books
    cross join tuning_config

)

select * from final
