{#- One row per live run: its last stored session and what the build that
    published it appended (all of it for the run's start, the new sessions
    for an update). `allocator runs` lists live runs from here; an update
    continues from last_session. Empty for other runs. -#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

update_window as (

    select * from {{ ref('stg_live__update') }}

),

sessions as (

    select * from {{ ref('live_sessions') }}

),

session_figures as (

    select
        max(sessions.date) as last_session,
        count(*) filter (where sessions.date >= run_config.start_date) as sessions_appended,
    from sessions
    cross join run_config

),

final as (

    select
        run_config.run_id,
        session_figures.last_session,
        coalesce(update_window.live_cut, run_config.start_date) as appended_from,
        session_figures.sessions_appended,
        update_window.is_live_update,
        update_window.lookback_start,
        run_config.created_at as updated_at,
    from run_config
    cross join update_window
    cross join session_figures
    where {{ 'true' if allocator.is_live_run() else 'false' }}

)

select * from final
