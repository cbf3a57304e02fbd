{#-
    Every session of the market calendar up to the run's end, with its
    rebalance flag and the rebalance whose weights it earns on.

    - A rebalance decides weights at its close; they earn from the next
      session on, so a weight never earns the close it was decided at.
    - Built-in sleeves rebalance on the last session of each period of the
      profile's frequency, and on the last session before start, so the book
      is invested from start. A weights file rebalances on its own dates.
    - The recorded book opens at the last rebalance before start; earlier
      rebalances only warm up signals and sleeve vol targeting.
-#}

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

periods as (

    select
        sessions.date,
        sessions.session_index,
        case run_config.rebalance_frequency
            when 'weekly' then {{ dbt.date_trunc('week', 'sessions.date') }}
            when 'monthly' then {{ dbt.date_trunc('month', 'sessions.date') }}
            else sessions.date
        end as period_start,
    from sessions
    cross join run_config

),

rebalances as (

    select
        periods.date,
        periods.session_index,
        {%- if allocator.portfolio_source() == 'weights_file' %}
        periods.date in (select date from weights_dates) as is_rebalance,
        {%- else %}
        periods.session_index = max(periods.session_index) over (partition by periods.period_start)
            or periods.date = max(
                case when periods.date < first_recorded.first_recorded_date then periods.date end
            ) over () as is_rebalance,
        {%- endif %}
        periods.date >= first_recorded.first_recorded_date as is_recorded,
    from periods
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

final as (

    select
        holdings.date,
        holdings.session_index,
        holdings.is_rebalance,
        holdings.is_rebalance and holdings.date >= opening.opening_rebalance_date as is_recorded_rebalance,
        holdings.is_recorded,
        holdings.held_rebalance_date,
        holdings.is_first_session_held,
    from holdings
    cross join opening

)

select * from final
