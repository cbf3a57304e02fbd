{#-
    Each sleeve's positions at each rebalance before vol targeting, scaled to
    a gross exposure of 1 so the sleeve's scale alone sets its risk:
    - trend: sign of the trailing return, sized by inverse volatility;
    - csmom: long the top bucket and short the bottom bucket of 12-1 month
      momentum, inverse-vol within each bucket, half the gross on each side;
    - core: long-only inverse volatility.
    A sleeve whose risk budget is 0 in the profile is off and has no rows.
-#}
with signals as (

    select * from {{ ref('int_asset_signals') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

trend_raw as (

    select
        date as rebalance_date,
        symbol,
        sign(trend_return) / asset_vol as raw_weight,
    from signals
    where asset_vol is not null and trend_return is not null and trend_return <> 0

),

trend as (

    select
        rebalance_date,
        'trend' as sleeve,
        symbol,
        raw_weight / sum(abs(raw_weight)) over (partition by rebalance_date) as unit_weight,
    from trend_raw

),

csmom_ranked as (

    select
        signals.date as rebalance_date,
        signals.symbol,
        signals.asset_vol,
        row_number() over (partition by signals.date order by signals.csmom_return desc, signals.symbol) as rank_from_top,
        row_number() over (partition by signals.date order by signals.csmom_return asc, signals.symbol) as rank_from_bottom,
        count(*) over (partition by signals.date) as ranked_symbols,
        run_config.csmom_bucket_share,
    from signals
    cross join run_config
    where signals.asset_vol is not null and signals.csmom_return is not null

),

csmom_buckets as (

    select
        rebalance_date,
        symbol,
        asset_vol,
        case
            when rank_from_top <= greatest(1, floor(ranked_symbols * csmom_bucket_share)) then 1
            when rank_from_bottom <= greatest(1, floor(ranked_symbols * csmom_bucket_share)) then -1
        end as side,
    from csmom_ranked
    -- a long and a short bucket need at least two symbols
    where ranked_symbols >= 2

),

csmom as (

    select
        rebalance_date,
        'csmom' as sleeve,
        symbol,
        0.5 * side * (1 / asset_vol) / sum(1 / asset_vol) over (partition by rebalance_date, side) as unit_weight,
    from csmom_buckets
    where side is not null

),

core as (

    select
        date as rebalance_date,
        'core' as sleeve,
        symbol,
        (1 / asset_vol) / sum(1 / asset_vol) over (partition by date) as unit_weight,
    from signals
    where asset_vol is not null

),

sleeves as (

    select * from trend
    union all
    select * from csmom
    union all
    select * from core

),

final as (

    select sleeves.rebalance_date, sleeves.sleeve, sleeves.symbol, sleeves.unit_weight,
    from sleeves
    cross join run_config
    where (sleeves.sleeve = 'trend' and run_config.trend_risk_budget > 0)
       or (sleeves.sleeve = 'csmom' and run_config.csmom_risk_budget > 0)
       or (sleeves.sleeve = 'core' and run_config.core_risk_budget > 0)

)

select * from final
