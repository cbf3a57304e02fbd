{#-
    The gate of a live update (var live_update): one row saying what the
    update appends, or an error naming the date and symbol when the prices
    file cannot continue the stored run:
    - it must hold the run's last stored session before the cut (so a
      skipped session shows), and reach at least that session (an update
      only appends: going backwards is refused);
    - on every stored session it covers, its closes must be the stored ones:
      a revised, missing or added close is refused (restate_from recomputes
      from a date instead).
    Outside a live update: one row with live_cut null (nothing is cut).
-#}
{%- set live_update = allocator.is_live_update() -%}
{%- set stored = adapter.get_relation(target.get('database'), 'artifacts', 'live_closes') if execute else none -%}
{%- set registered = adapter.get_relation(target.get('database'), 'marts', 'live_runs') if execute else none -%}
{%- set prices_path = allocator.sql_literal(allocator.run_var('prices_path', '')) -%}
{%- set restate = allocator.run_var('restate_from', none) -%}
-- depends_on: {{ ref('stg_market__prices') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

{%- if not live_update %}

final as (

    select
        run_config.run_id,
        false as is_live_update,
        cast(null as date) as last_session,
        cast(null as date) as live_cut,
        cast(null as date) as lookback_start,
        cast(null as integer) as lookback_sessions,
        cast(null as bigint) as last_session_number,
        cast(null as date) as file_first_date,
        cast(null as date) as file_last_date,
        cast(null as bigint) as new_sessions,
    from run_config

)

{%- elif stored is none or registered is none %}

final as (

    select
        run_config.run_id,
        true as is_live_update,
        cast(null as date) as last_session,
        cast(error('run ''' || run_config.run_id || ''' is not a live run: no live run is stored in this database; '
            || 'start one with allocator run --live (dbt: var live: true)') as date) as live_cut,
        cast(null as date) as lookback_start,
        cast(null as integer) as lookback_sessions,
        cast(null as bigint) as last_session_number,
        cast(null as date) as file_first_date,
        cast(null as date) as file_last_date,
        cast(null as bigint) as new_sessions,
    from run_config

)

{%- else %}

file_closes as (

    select * from {{ ref('stg_market__prices') }}

),

registered as (

    select live_runs.*
    from {{ registered }} as live_runs
    inner join run_config
        on live_runs.run_id = run_config.run_id

),

requested as (

    select
        run_config.run_id,
        registered.last_session,
        {%- if restate %}
        try_cast({{ allocator.sql_literal(restate | string) }} as date) as live_cut,
        {%- else %}
        registered.last_session + 1 as live_cut,
        {%- endif %}
        run_config.start_date,
        -- the longest window behind a new row: a signal's lookback, then the
        -- sleeve vol window, two rebalance periods and the state's windows
        greatest(run_config.trend_lookback_days, run_config.csmom_lookback_days, run_config.asset_vol_lookback_days)
            + run_config.sleeve_vol_lookback_days + {{ allocator.live_lookback_margin() }} as lookback_sessions,
    from run_config
    left join registered
        on true

),

sessions as (

    select live_sessions.date, live_sessions.session_number
    from {{ adapter.get_relation(target.get('database'), 'artifacts', 'live_sessions') }} as live_sessions
    cross join requested
    where live_sessions.run_id = requested.run_id
      and live_sessions.date < requested.live_cut

),

kept as (

    select
        max(date) as kept_last_session,
        max(session_number) as last_session_number,
    from sessions

),

lookback as (

    select min(sessions.date) as lookback_start
    from sessions
    cross join kept
    cross join requested
    where sessions.session_number > kept.last_session_number - requested.lookback_sessions

),

file_span as (

    select min(date) as file_first_date, max(date) as file_last_date,
    from file_closes

),

stored_overlap as (

    select live_closes.date, live_closes.symbol, live_closes.close
    from {{ stored }} as live_closes
    cross join requested
    cross join file_span
    where live_closes.run_id = requested.run_id
      and live_closes.date >= file_span.file_first_date
      and live_closes.date < requested.live_cut

),

file_overlap as (

    select file_closes.date, file_closes.symbol, file_closes.close
    from file_closes
    cross join requested
    where file_closes.date < requested.live_cut

),

skipped_sessions as (

    -- a stored session the file does not have at all
    select min(date) as date, min(symbol) as symbol
    from stored_overlap
    where date not in (select date from file_overlap)

),

revisions as (

    select
        coalesce(stored_overlap.date, file_overlap.date) as date,
        coalesce(stored_overlap.symbol, file_overlap.symbol) as symbol,
        stored_overlap.close as stored_close,
        file_overlap.close as file_close,
    from stored_overlap
    full outer join file_overlap
        on stored_overlap.date = file_overlap.date
        and stored_overlap.symbol = file_overlap.symbol
    where stored_overlap.close is distinct from file_overlap.close
    order by 1, 2
    limit 1

),

new_file_sessions as (

    select count(distinct file_closes.date) as new_sessions
    from file_closes
    cross join requested
    where file_closes.date >= requested.live_cut

),

checked as (

    select
        requested.run_id,
        requested.last_session,
        requested.live_cut,
        lookback.lookback_start,
        requested.lookback_sessions,
        kept.last_session_number,
        file_span.file_first_date,
        file_span.file_last_date,
        new_file_sessions.new_sessions,
        case
            when requested.last_session is null then error(
                'run ''' || requested.run_id || ''' is not a live run (marts.live_runs has no row for it): '
                || 'start it with allocator run --live (dbt: var live: true)')
            when requested.live_cut is null then error(
                'run ''' || requested.run_id || ''': restate_from ' || {{ allocator.sql_literal(restate | string) }}
                || ' is not a date (expected YYYY-MM-DD)')
            when requested.live_cut <= requested.start_date or requested.live_cut > requested.last_session + 1 then error(
                'run ''' || requested.run_id || ''': restate_from ' || cast(requested.live_cut as varchar)
                || ' must lie after the run''s start ' || cast(requested.start_date as varchar)
                || ' and on or before its last session ' || cast(requested.last_session as varchar))
            when file_span.file_first_date > kept.kept_last_session then error(
                'prices file ''' || {{ prices_path }} || ''' starts on ' || cast(file_span.file_first_date as varchar)
                || ', after live run ''' || requested.run_id || '''''s last session ' || cast(kept.kept_last_session as varchar)
                || ': a session between them may be skipped; give a file that holds ' || cast(kept.kept_last_session as varchar)
                || ' and the sessions after it')
            when file_span.file_last_date < requested.last_session and {{ 'false' if restate else 'true' }} then error(
                'prices file ''' || {{ prices_path }} || ''' ends on ' || cast(file_span.file_last_date as varchar)
                || ', before live run ''' || requested.run_id || '''''s last session ' || cast(requested.last_session as varchar)
                || ' (symbol ' || (select min(stored_overlap.symbol) from stored_overlap where stored_overlap.date = requested.last_session)
                || ' was stored then): an update only appends; give a file through '
                || cast(requested.last_session as varchar) || ' or later, or recompute from a date with restate_from')
            when skipped_sessions.date is not null then error(
                'prices file ''' || {{ prices_path }} || ''' skips session ' || cast(skipped_sessions.date as varchar)
                || ' of live run ''' || requested.run_id || ''' (symbol ' || skipped_sessions.symbol
                || ' closed then): give a file with every session from ' || cast(file_span.file_first_date as varchar))
            when revisions.date is not null then error(
                'prices file ''' || {{ prices_path }} || ''' revises symbol ' || revisions.symbol || ' on '
                || cast(revisions.date as varchar) || ', stored by live run ''' || requested.run_id || ''': '
                || case
                    when revisions.file_close is null then 'the file has no close (stored ' || cast(revisions.stored_close as varchar) || ')'
                    when revisions.stored_close is null then 'the file adds a close of ' || cast(revisions.file_close as varchar) || ' (none stored)'
                    else 'close ' || cast(revisions.file_close as varchar) || ' in the file, ' || cast(revisions.stored_close as varchar) || ' stored'
                end
                || '; an update never rewrites stored sessions: recompute from that date with restate_from '
                || cast(revisions.date as varchar))
        end as failed,
    from requested
    cross join kept
    cross join lookback
    cross join file_span
    cross join new_file_sessions
    left join skipped_sessions
        on true
    left join revisions
        on true

),

final as (

    select
        run_id,
        true as is_live_update,
        last_session,
        live_cut,
        lookback_start,
        lookback_sessions,
        last_session_number,
        file_first_date,
        file_last_date,
        new_sessions,
    from checked
    where failed is null

)

{%- endif %}

select * from final
