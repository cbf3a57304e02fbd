{#-
    The exposure of each control on the book, one row per (run, control,
    session). The constants hold their exposure every session. The vol
    target's exposure reaches the book on the same sessions and by the same
    rule as the governor's scalar: it is decided at the governor's
    scalar_decided_at close (allocator_scalars_daily, the run's cadence and
    lag) from the unscaled book's 20-day vol at that close, and filled with
    apply_missing_scalar_as where the governor's would be (no decision
    close, or the state not ready). A control without a parameter (no k
    reaches the scaled run's vol) has no rows.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

sessions as (

    select * from {{ ref('int_controls__sessions') }}

),

parameters as (

    select * from {{ ref('controls_parameters') }}

),

decided as (

    select
        parameters.control,
        sessions.date,
        sessions.held_rebalance_date,
        sessions.scalar_decided_at,
        parameters.exposure_rule,
        case parameters.exposure_rule
            when 'constant' then parameters.exposure_parameter
            else {{ allocator.vol_target_exposure('parameters.exposure_parameter', 'sessions.decided_rvol_20d') }}
        end as decided_exposure,
    from sessions
    cross join parameters
    where parameters.exposure_parameter is not null

),

final as (

    select
        run_config.run_id,
        decided.control,
        decided.date,
        decided.held_rebalance_date,
        case when decided.exposure_rule = 'vol_target' then decided.scalar_decided_at end as exposure_decided_at,
        coalesce(decided.decided_exposure, run_config.apply_missing_scalar_as) as exposure,
        decided.decided_exposure is null as is_missing_filled,
    from decided
    cross join run_config

)

select * from final
