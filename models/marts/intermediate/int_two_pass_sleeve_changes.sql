{#-
    Stage 6 (var sleeve_scalars; no rows when off or without a published
    baseline): each sleeve's delivered scalar and what it changed on each
    session, one row per (sleeve, session): (scalar - 1) x the sleeve's
    gross contribution (sleeve_returns; 0 on a session without one).
    two_pass_sleeve_attribution sums it; int_two_pass_sleeve_books adds it
    to the baseline.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

sleeve_daily as (

    select * from {{ ref('allocator_sleeve_scalars_daily') }}

),

sleeve_contributions as (

    select * from {{ ref('sleeve_returns') }}

),

sleeve_changes as (

    select
        sleeve_daily.date,
        sleeve_daily.sleeve,
        sleeve_daily.sleeve_scalar_used,
        (sleeve_daily.sleeve_scalar_used - 1.0) * coalesce(sleeve_contributions.sleeve_return, 0.0) as return_change,
    from sleeve_daily
    cross join run_config
    left join sleeve_contributions
        on sleeve_daily.date = sleeve_contributions.date
        and sleeve_daily.sleeve = sleeve_contributions.sleeve
    where run_config.sleeve_scalars <> 'off'
        and exists (select 1 from pairs)

),

final as (

    select * from sleeve_changes

)

select * from final
