{#-
    Every session of the market calendar up to the run's end, with its
    rebalance flag and the rebalance whose weights it earns on.

    - A rebalance decides weights at its close; they earn from the next
      session on, so a weight never earns the close it was decided at.
    - Built-in sleeves rebalance on the last session of each period of the
      profile's frequency, and on the last session before start, so the book
      is invested from start. A weights file rebalances on its own dates.
    - Which session closes a period is the run's rebalance_calendar.
      sessions (a backtest's default): the period's last session in the
      file, as a desk knows it from the exchange calendar; the file's next
      session says so. weekdays (a live run's): a session whose next weekday
      opens a new period closes its period, known at its close without the
      next session. When that weekday is a holiday ending the period (a
      month ending on Good Friday), the first session of the next period
      closes it instead. So a session's flag never changes when later
      sessions arrive, and a live run that appends one day at a time
      rebalances exactly as a whole build.
    - The recorded book opens at the last rebalance before start; earlier
      rebalances warm up signals and sleeve vol targeting, and the ones held
      in the warm-up sessions (is_warm_up: the last warm_up - 1 sessions
      before start that hold a rebalance) give the book the allocator's
      state warms up on (allocator_state_v1_warm_up_holdings), so the state is
      ready on the first session of the window.
-#}
{%- set windows = allocator.allocator_state_windows() %}

-- depends_on: {{ ref('stg_portfolio__weights') }}
-- the checks that the data covers the run come first
-- depends_on: {{ ref('int_run_coverage') }}
with sessions as (

    select * from {{ ref('stg_market__sessions') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

{%- if allocator.portfolio_source() == 'weights_file' %}

weights_dates as (

    select distinct date from {{ ref('stg_portfolio__weights') }}

),
{%- endif %}

first_recorded as (

    select min(sessions.date) as first_recorded_date
    from sessions
    cross join run_config
    where sessions.date >= run_config.start_date

),

next_weekdays as (

    select
        sessions.date,
        sessions.session_index,
        -- Friday's next weekday is Monday
        sessions.date + case dayofweek(sessions.date) when 5 then 3 when 6 then 2 else 1 end as next_weekday,
    from sessions

),

periods as (

    select
        next_weekdays.date,
        next_weekdays.session_index,
        case run_config.rebalance_frequency
            when 'weekly' then {{ dbt.date_trunc('week', 'next_weekdays.date') }}
            when 'monthly' then {{ dbt.date_trunc('month', 'next_weekdays.date') }}
            else next_weekdays.date
        end as period_start,
        case run_config.rebalance_frequency
            when 'weekly' then {{ dbt.date_trunc('week', 'next_weekdays.next_weekday') }}
            when 'monthly' then {{ dbt.date_trunc('month', 'next_weekdays.next_weekday') }}
            else next_weekdays.next_weekday
        end as next_weekday_period_start,
    from next_weekdays
    cross join run_config

),

period_closes as (

    select
        *,
        period_start <> next_weekday_period_start as closes_period,
        -- the first session of a period the previous session did not close
        coalesce(
            lag(period_start) over (order by date) <> period_start
                and not lag(period_start <> next_weekday_period_start) over (order by date),
            false
        ) as closes_previous_period,
    from periods

),

rebalances as (

    select
        periods.date,
        periods.session_index,
        {%- if allocator.portfolio_source() == 'weights_file' %}
        periods.date in (select date from weights_dates) as is_rebalance,
        {%- else %}
        case run_config.rebalance_calendar
            when 'weekdays' then periods.closes_period or periods.closes_previous_period
            else periods.session_index = max(periods.session_index) over (partition by periods.period_start)
        end
            or periods.date = max(
                case when periods.date < first_recorded.first_recorded_date then periods.date end
            ) over () as is_rebalance,
        {%- endif %}
        periods.date >= first_recorded.first_recorded_date as is_recorded,
    from period_closes as periods
    cross join first_recorded
    cross join run_config
    where periods.date <= run_config.end_date

),

holdings as (

    select
        *,
        max(case when is_rebalance then date end) over (
            order by date rows between unbounded preceding and 1 preceding
        ) as held_rebalance_date,
        coalesce(lag(is_rebalance) over (order by date), false) as is_first_session_held,
    from rebalances

),

opening as (

    select min(held_rebalance_date) as opening_rebalance_date
    from holdings
    where is_recorded

),

warm_up as (

    -- the sessions before start that hold a rebalance, latest first: start
    -- is then the warm_up-th observation of the state, its first ready one
    select
        date,
        row_number() over (order by date desc) <= {{ windows['warm_up'] - 1 }} as is_warm_up,
    from holdings
    where not is_recorded and held_rebalance_date is not null

),

final as (

    select
        holdings.date,
        holdings.session_index,
        holdings.is_rebalance,
        holdings.is_rebalance and holdings.date >= opening.opening_rebalance_date as is_recorded_rebalance,
        holdings.is_recorded,
        holdings.held_rebalance_date,
        holdings.is_first_session_held,
        coalesce(warm_up.is_warm_up, false) as is_warm_up,
    from holdings
    cross join opening
    left join warm_up
        on holdings.date = warm_up.date

)

select * from final
