{#-
    The scalar to apply at each recorded rebalance, lagged by one rebalance:
    risk_scalar_applied at rebalance k is the risk scalar computed at
    rebalance k-1 (from data through k-1's close), never anything observed
    since. Where that scalar does not exist (the first rebalance, rebalances
    before the risk series starts after the state's warm-up)
    apply_missing_scalar_as is used and flagged.

    This table is written in every mode; it is what a later run loads in
    precomputed mode (source allocator_artifacts.allocator_risk_v1_applied).
    A returns-only portfolio has no rebalances of its own: every recorded
    date counts as one.
-#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

observations as (

    select * from {{ ref('int_allocator_observations') }}

),

risk as (

    select * from {{ ref('allocator_risk_v1') }}

),

rebalances as (

    select calendar.date as rebalance_date,
    from calendar
    cross join run_config
    where calendar.is_recorded_rebalance
      and run_config.portfolio_source <> 'returns_file'

    union all

    select observations.date as rebalance_date,
    from observations
    cross join run_config
    where run_config.portfolio_source = 'returns_file'
      and not observations.is_warm_up

),

computed as (

    select
        rebalances.rebalance_date,
        risk.risk_scalar as risk_scalar_computed,
    from rebalances
    left join risk
        on rebalances.rebalance_date = risk.date

),

lagged as (

    select
        *,
        lag(risk_scalar_computed) over (order by rebalance_date) as previous_risk_scalar,
    from computed

),

final as (

    select
        run_config.run_id,
        lagged.rebalance_date,
        lagged.risk_scalar_computed,
        coalesce(lagged.previous_risk_scalar, run_config.apply_missing_scalar_as) as risk_scalar_applied,
        lagged.previous_risk_scalar is null as is_missing_filled,
    from lagged
    cross join run_config

)

select * from final
{{ allocator.live_new_rows('rebalance_date') }}
