{#- The closes a live run has read, one row per (date, symbol): its rolling
    windows' inputs. An update reads a bounded lookback of them instead of
    the whole file (stg_market__closes) and checks the file against them
    (stg_live__update). A live run's start stores every close up to end,
    history before start included; an update appends the new sessions'.
    Empty for other runs. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

update_window as (

    select * from {{ ref('stg_live__update') }}

),

prices as (

    select * from {{ ref('stg_market__prices') }}

),

final as (

    select
        run_config.run_id,
        prices.date,
        prices.symbol,
        prices.close,
    from prices
    cross join run_config
    cross join update_window
    where {{ 'true' if allocator.is_live_run() else 'false' }}
      and prices.date <= run_config.end_date
      and (update_window.live_cut is null or prices.date >= update_window.live_cut)
    order by prices.date, prices.symbol

)

select * from final
