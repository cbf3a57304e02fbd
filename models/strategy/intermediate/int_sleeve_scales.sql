{#-
    Vol targeting: at each rebalance, each sleeve is scaled so that its unit
    book's realised volatility over the trailing window (which carries the
    symbols' volatilities and correlations) would hit the sleeve's target,
    within the leverage cap. A sleeve without a full window is not ready and
    gets no weight.
-#}
{%- set vol_days = 'run_config.sleeve_vol_lookback_days' -%}

with unit_returns as (

    select * from {{ ref('int_sleeve_unit_returns') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

realised as (

    select
        date,
        sleeve,
        {{ allocator.annualised_vol('unit_return', 'by_sleeve ' ~ allocator.trailing_rows(vol_days)) }} as realised_vol,
        count(*) over (by_sleeve {{ allocator.trailing_rows(vol_days) }}) as vol_observations,
    from unit_returns
    cross join run_config
    window by_sleeve as (partition by sleeve order by date)

),

targets as (

    select
        realised.date as rebalance_date,
        realised.sleeve,
        realised.realised_vol,
        case realised.sleeve
            when 'trend' then run_config.trend_vol_target
            when 'csmom' then run_config.csmom_vol_target
            when 'core' then run_config.core_vol_target
        end as vol_target,
        case realised.sleeve
            when 'trend' then run_config.trend_risk_budget
            when 'csmom' then run_config.csmom_risk_budget
            when 'core' then run_config.core_risk_budget
        end as risk_budget,
        run_config.leverage_cap,
    from realised
    inner join calendar
        on realised.date = calendar.date
    cross join run_config
    where calendar.is_rebalance
      and realised.vol_observations = {{ vol_days }}
      and realised.realised_vol > 0

),

final as (

    select
        rebalance_date,
        sleeve,
        realised_vol,
        vol_target,
        risk_budget,
        least(vol_target / realised_vol, leverage_cap) as vol_scale,
    from targets

)

select * from final
