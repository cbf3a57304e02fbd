{#-
    Episode timing of every paired scaled run: the baseline's five deepest
    drawdown episodes (macros/drawdown_episodes.sql: peak, trough, recovery,
    never overlapping), when the regime first raised an alarm inside each
    (STRESS or CRISIS, counted from the peak) and when the book first earned a
    scalar decided at or after that alarm's close, with both lags in
    sessions, and the drawdown of both books from the baseline's peak to its
    trough: did the governor see the episode in time, and did its cadence
    deliver the cut before the damage was done?
-#}
{%- set settings = allocator.two_pass_alarm_settings() -%}

with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns') }}

),

regimes as (

    select * from {{ ref('allocator_regime_v1') }}

),

scalars_daily as (

    select * from {{ ref('allocator_scalars_daily') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

sessions as (

    -- the baseline's book is the scaled run's unscaled book; lags count the
    -- book's sessions
    select
        pairs.scaled_run_id,
        portfolio_returns.date,
        portfolio_returns.drawdown_unscaled as drawdown,
        portfolio_returns.equity as scaled_equity,
        row_number() over ({{ allocator.two_pass_run_sequence() }}) as session_number,
    from pairs
    inner join portfolio_returns
        on pairs.scaled_run_id = portfolio_returns.run_id

),

{{ allocator.drawdown_episodes('sessions', 'scaled_run_id') }},

run_ends as (

    select scaled_run_id, max(date) as last_date,
    from sessions
    group by scaled_run_id

),

worst_episodes as (

    -- an episode not recovered lasts to the end of the run
    select
        drawdown_episodes.*,
        coalesce(drawdown_episodes.recovery_date, run_ends.last_date) as episode_end_date,
    from drawdown_episodes
    inner join run_ends
        on drawdown_episodes.scaled_run_id = run_ends.scaled_run_id
    where drawdown_episodes.depth_rank <= {{ settings.episodes }}

),

alarms as (

    select
        pairs.scaled_run_id,
        regimes.date,
    from pairs
    inner join regimes
        on pairs.scaled_run_id = regimes.run_id
    where regimes.regime_level >= {{ settings.alarm_regime_level }}

),

first_alarms as (

    -- the peak day itself counts: the regime may already be alarmed there
    select
        worst_episodes.scaled_run_id,
        worst_episodes.episode_number,
        min(alarms.date) as first_alarm_date,
    from worst_episodes
    inner join alarms
        on worst_episodes.scaled_run_id = alarms.scaled_run_id
        and alarms.date between worst_episodes.peak_date and worst_episodes.episode_end_date
    group by worst_episodes.scaled_run_id, worst_episodes.episode_number

),

first_earnings as (

    -- the first session holding a scalar decided at or after the alarm's
    -- close (the run's cadence decides how long that takes); it may fall
    -- after the episode
    select
        first_alarms.scaled_run_id,
        first_alarms.episode_number,
        min(scalars_daily.date) as first_earning_date,
    from first_alarms
    inner join scalars_daily
        on first_alarms.scaled_run_id = scalars_daily.run_id
        and scalars_daily.scalar_decided_at >= first_alarms.first_alarm_date
    group by first_alarms.scaled_run_id, first_alarms.episode_number

),

timed as (

    select
        worst_episodes.scaled_run_id,
        worst_episodes.depth_rank as episode_rank,
        worst_episodes.peak_date,
        worst_episodes.trough_date,
        worst_episodes.recovery_date,
        worst_episodes.max_drawdown as baseline_drawdown,
        peaks.drawdown as peak_drawdown,
        peaks.scaled_equity as peak_scaled_equity,
        troughs.scaled_equity as trough_scaled_equity,
        first_alarms.first_alarm_date,
        alarm_sessions.session_number - peaks.session_number as detection_lag_sessions,
        first_earnings.first_earning_date,
        earning_sessions.session_number - alarm_sessions.session_number as delivery_lag_sessions,
    from worst_episodes
    inner join sessions as peaks
        on worst_episodes.scaled_run_id = peaks.scaled_run_id
        and worst_episodes.peak_date = peaks.date
    inner join sessions as troughs
        on worst_episodes.scaled_run_id = troughs.scaled_run_id
        and worst_episodes.trough_date = troughs.date
    left join first_alarms
        on worst_episodes.scaled_run_id = first_alarms.scaled_run_id
        and worst_episodes.episode_number = first_alarms.episode_number
    left join sessions as alarm_sessions
        on first_alarms.scaled_run_id = alarm_sessions.scaled_run_id
        and first_alarms.first_alarm_date = alarm_sessions.date
    left join first_earnings
        on worst_episodes.scaled_run_id = first_earnings.scaled_run_id
        and worst_episodes.episode_number = first_earnings.episode_number
    left join sessions as earning_sessions
        on first_earnings.scaled_run_id = earning_sessions.scaled_run_id
        and first_earnings.first_earning_date = earning_sessions.date

),

final as (

    select
        timed.scaled_run_id,
        pairs.baseline_run_id,
        cast(timed.episode_rank as {{ dbt.type_int() }}) as episode_rank,
        run_config.cadence,
        timed.peak_date,
        timed.trough_date,
        timed.recovery_date,
        timed.recovery_date is not null as is_recovered,
        timed.baseline_drawdown,
        -- the scaled book from the baseline's peak to its trough; an episode
        -- that starts with the run peaks at the starting wealth 1.0
        timed.trough_scaled_equity
            / case when timed.peak_drawdown = 0 then timed.peak_scaled_equity else 1.0 end
            - 1 as scaled_drawdown,
        timed.first_alarm_date,
        cast(timed.detection_lag_sessions as {{ dbt.type_int() }}) as detection_lag_sessions,
        timed.first_alarm_date <= timed.trough_date as is_alarm_before_trough,
        timed.first_earning_date,
        cast(timed.delivery_lag_sessions as {{ dbt.type_int() }}) as delivery_lag_sessions,
    from timed
    inner join pairs
        on timed.scaled_run_id = pairs.scaled_run_id
    inner join run_config
        on timed.scaled_run_id = run_config.run_id

)

select * from final
