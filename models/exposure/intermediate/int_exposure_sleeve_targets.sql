{#-
    Stage 6: regime -> target scalar per sleeve, for a run with sleeve-level
    scalars (stg_run_config.sleeve_scalars): the named sleeve calibration's
    rows of the allocator_sleeve_scalars seed, or, for `book`, the run's own
    regime map (int_allocator_regime_targets) for every sleeve. No rows when
    the option is off. A calibration without a row for one of the book's
    sleeves stops the build: that sleeve would silently keep full risk.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

sleeve_seed as (

    select * from {{ ref('allocator_sleeve_scalars') }}

),

book_targets as (

    select * from {{ ref('int_allocator_regime_targets') }}

),

sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

book_sleeves as (

    select distinct sleeve, from sleeve_weights

),

from_seed as (

    select
        sleeve_seed.sleeve,
        sleeve_seed.regime,
        sleeve_seed.target_scalar,
    from sleeve_seed
    cross join run_config
    where sleeve_seed.sleeve_calibration = run_config.sleeve_scalars

),

from_book as (

    select
        book_sleeves.sleeve,
        book_targets.regime,
        book_targets.target_scalar,
    from book_sleeves
    cross join book_targets
    cross join run_config
    where run_config.sleeve_scalars = 'book'

),

targets as (

    select * from from_seed
    union all
    select * from from_book

),

coverage as (

    -- every sleeve of the book needs all four regimes
    select
        book_sleeves.sleeve,
        count(targets.regime) as regimes,
    from book_sleeves
    left join targets
        on book_sleeves.sleeve = targets.sleeve
    group by book_sleeves.sleeve

),

checked as (

    select
        case
            when run_config.sleeve_scalars <> 'off' and coverage.regimes <> 4
            then error(
                'var sleeve_scalars: ''' || run_config.sleeve_scalars || ''' gives sleeve '''
                || coverage.sleeve || ''' ' || cast(coverage.regimes as varchar)
                || ' of the 4 regime targets: use off, book or a sleeve_calibration of '
                || 'seeds/allocator_sleeve_scalars.csv listing every regime of every sleeve'
            )
        end as failed,
    from coverage
    cross join run_config

),

final as (

    select
        run_config.run_id,
        run_config.sleeve_scalars as sleeve_calibration,
        targets.sleeve,
        targets.regime,
        targets.target_scalar,
    from targets
    cross join run_config
    where not exists (select 1 from checked where failed is not null)

)

select * from final
