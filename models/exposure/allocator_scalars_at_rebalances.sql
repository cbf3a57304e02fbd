{#-
    Per recorded rebalance: the run's own computed and lagged scalars next to
    the scalar actually multiplied into the weights, which depends on the
    mode (allocator_v1.mode):
      off          1.0: every artifact is computed, weights are not scaled;
      compute      the run's own risk_scalar_applied;
      precomputed  the risk_scalar_applied loaded for that rebalance date from
                   an earlier run or a file (stg_allocator__precomputed_scalars);
                   apply_missing_scalar_as when the source lacks the date.
    Precomputed scalars that match fewer than precomputed_min_coverage of the
    run's rebalances (a file for another calendar, a baseline with another
    window) stop the build: filling the rest with 1.0 would pass for a run.
-#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

applied as (

    select * from {{ ref('allocator_risk_v1_applied') }}

),

precomputed as (

    select * from {{ ref('stg_allocator__precomputed_scalars') }}

),

regimes as (

    select * from {{ ref('allocator_regime_v1') }}

),

for_cadence as (

    -- the scalar the run's cadence puts on this rebalance's first session:
    -- the previous rebalance's (the seeds'), or the one decided at this
    -- rebalance's close (cadences rebalance and daily)
    select
        applied.*,
        case
            when run_config.cadence = 'rebalance_lagged' then applied.risk_scalar_applied
            else coalesce(applied.risk_scalar_computed, run_config.apply_missing_scalar_as)
        end as risk_scalar_for_cadence,
        case
            when run_config.cadence = 'rebalance_lagged' then applied.is_missing_filled
            else applied.risk_scalar_computed is null
        end as is_missing_for_cadence,
    from applied
    cross join run_config

),

chosen as (

    select
        applied.rebalance_date,
        applied.risk_scalar_computed,
        applied.risk_scalar_applied,
        applied.risk_scalar_for_cadence,
        case
            when run_config.allocator_mode = 'off' then 1.0
            when run_config.allocator_mode = 'compute' then applied.risk_scalar_for_cadence
            -- a scalar file holds the seeds' applied scalars (cadence
            -- rebalance_lagged, the gate's rule); other cadences apply the
            -- baseline's risk series, which is this run's when like for like
            when run_config.cadence = 'rebalance_lagged'
                then coalesce(precomputed.risk_scalar_applied, run_config.apply_missing_scalar_as)
            else applied.risk_scalar_for_cadence
        end as risk_scalar_used,
        case run_config.allocator_mode
            when 'off' then 'none'
            when 'compute' then 'computed'
            when 'precomputed' then 'precomputed:' || run_config.precomputed_source
        end as scalar_source,
        case run_config.allocator_mode
            when 'off' then false
            when 'compute' then applied.is_missing_for_cadence
            when 'precomputed' then precomputed.risk_scalar_applied is null
        end as is_missing_filled,
        regimes.regime,
    from for_cadence as applied
    cross join run_config
    left join precomputed
        on applied.rebalance_date = precomputed.rebalance_date
    left join regimes
        on applied.rebalance_date = regimes.date

),

coverage as (

    select
        count(*) as rebalances,
        count(case when not is_missing_filled then 1 end) as matched,
    from chosen

),

checked as (

    select
        case
            when run_config.allocator_mode = 'precomputed'
                -- unqualified, so a unit test can override the macro
                and coverage.matched < {{ precomputed_min_coverage() }} * coverage.rebalances
            then error(
                'run ''' || run_config.run_id || ''': the precomputed scalars of ' || run_config.precomputed_source
                || ' match ' || cast(coverage.matched as varchar) || ' of the run''s '
                || cast(coverage.rebalances as varchar) || ' rebalances; at least '
                || cast({{ precomputed_min_coverage() }} * 100 as varchar)
                || '% must match (a baseline or file of the same calendar and window as the run)'
            )
        end as failed,
    from run_config
    cross join coverage

),

final as (

    select
        run_config.run_id,
        chosen.rebalance_date,
        chosen.risk_scalar_computed,
        chosen.risk_scalar_applied,
        chosen.risk_scalar_used,
        chosen.risk_scalar_for_cadence,
        -- a material cut of exposure, what every count of "scaled" counts
        chosen.risk_scalar_used < run_config.materially_scaled_below as is_scaled,
        chosen.scalar_source,
        chosen.is_missing_filled,
        chosen.regime,
    from chosen
    cross join run_config
    cross join checked
    where checked.failed is null

)

select * from final
{{ allocator.live_new_rows('rebalance_date') }}
