{#- The sessions a live run has stored, numbered from the first close of its
    prices file: what bounds an update's lookback (stg_live__update). A live
    run's start stores every session up to end, history before start
    included; an update appends the new ones. Empty for other runs. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

update_window as (

    select * from {{ ref('stg_live__update') }}

),

prices as (

    select * from {{ ref('stg_market__prices') }}

),

new_dates as (

    select distinct prices.date
    from prices
    cross join run_config
    cross join update_window
    where {{ 'true' if allocator.is_live_run() else 'false' }}
      and prices.date <= run_config.end_date
      and (update_window.live_cut is null or prices.date >= update_window.live_cut)

),

final as (

    select
        run_config.run_id,
        new_dates.date,
        coalesce(update_window.last_session_number, 0)
            + row_number() over (order by new_dates.date) as session_number,
    from new_dates
    cross join run_config
    cross join update_window

)

select * from final
