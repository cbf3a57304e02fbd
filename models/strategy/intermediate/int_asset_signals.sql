{#-
    Per symbol, on every rebalance date, the inputs of the three sleeves,
    computed only from returns up to and including that date's close. A
    signal is null until its window is full (warm-up), never filled.
-#}
{%- set trend_days = 'run_config.trend_lookback_days' -%}
{%- set csmom_days = 'run_config.csmom_lookback_days' -%}
{%- set csmom_skip = 'run_config.csmom_skip_days' -%}
{%- set vol_days = 'run_config.asset_vol_lookback_days' -%}

with returns as (

    select * from {{ ref('stg_market__returns') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

rolling as (

    select
        returns.date,
        returns.symbol,
        {{ allocator.annualised_vol('returns.simple_return', 'by_symbol ' ~ allocator.trailing_rows(vol_days)) }} as asset_vol,
        count(*) over (by_symbol {{ allocator.trailing_rows(vol_days) }}) as vol_observations,
        exp(sum(ln(1 + returns.simple_return)) over (by_symbol {{ allocator.trailing_rows(trend_days) }})) - 1 as trend_return,
        count(*) over (by_symbol {{ allocator.trailing_rows(trend_days) }}) as trend_observations,
        exp(sum(ln(1 + returns.simple_return)) over (
            by_symbol rows between {{ csmom_days }} - 1 preceding and {{ csmom_skip }} preceding
        )) - 1 as csmom_return,
        count(*) over (
            by_symbol rows between {{ csmom_days }} - 1 preceding and {{ csmom_skip }} preceding
        ) as csmom_observations,
        run_config.asset_vol_lookback_days,
        run_config.trend_lookback_days,
        run_config.csmom_lookback_days - run_config.csmom_skip_days as csmom_days,
    from returns
    cross join run_config
    window by_symbol as (partition by returns.symbol order by returns.date)

),

final as (

    select
        rolling.date,
        rolling.symbol,
        case when rolling.vol_observations = rolling.asset_vol_lookback_days and rolling.asset_vol > 0 then rolling.asset_vol end as asset_vol,
        case when rolling.trend_observations = rolling.trend_lookback_days then rolling.trend_return end as trend_return,
        case when rolling.csmom_observations = rolling.csmom_days then rolling.csmom_return end as csmom_return,
    from rolling
    inner join calendar
        on rolling.date = calendar.date
    where calendar.is_rebalance

)

select * from final
