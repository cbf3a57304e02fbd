{#-
    Drawdown episodes of daily books (gaps and islands on the drawdown), as
    the governor study counts them (benchmarks/governor_study/study.py,
    drawdown_episodes): an episode runs from a high-water mark (drawdown
    exactly 0; the run's first session when the book loses from its starting
    wealth on day one) through the days below it to the recovery, the next
    high-water mark, or to the end of the run ('not recovered'). Episodes do
    not overlap: no day below water belongs to two of them (a recovery can be
    the next episode's peak). The trough is the deepest day, the first on
    ties; episodes are ranked deepest first, the earlier on ties.

    `daily_relation` has one row per (partition_column, date) with a
    `drawdown` column (<= 0, measured from wealth 1.0 as portfolio_returns
    does). Produces CTEs ending in `drawdown_episodes`: partition_column,
    episode_number, peak_date, trough_date, recovery_date (null when not
    recovered), max_drawdown, depth_rank.
-#}
{% macro drawdown_episodes(daily_relation, partition_column) %}
    episode_days as (

    select
        {{ partition_column }},
        date,
        drawdown,
        -- every high-water mark opens a new episode number; the days below
        -- water after it share its number
        sum(case when drawdown = 0 then 1 else 0 end) over (
            partition by {{ partition_column }} order by date {{ allocator.running_rows() }}
        ) as episode_number,
    from {{ daily_relation }}

),

episode_groups as (

    select
        {{ partition_column }},
        episode_number,
        min(date) as first_date,
        min(drawdown) as max_drawdown,
    from episode_days
    group by {{ partition_column }}, episode_number

),

episode_recoveries as (

    -- the next group starts at the next high-water mark: the recovery
    select
        {{ partition_column }},
        episode_number,
        first_date as peak_date,
        max_drawdown,
        lead(first_date) over (
            partition by {{ partition_column }} order by episode_number
        ) as recovery_date,
    from episode_groups

),

episode_troughs as (

    select
        {{ partition_column }},
        episode_number,
        date as trough_date,
        row_number() over (
            partition by {{ partition_column }}, episode_number order by drawdown, date
        ) as trough_rank,
    from episode_days

),

drawdown_episodes as (

    select
        episode_recoveries.{{ partition_column }},
        episode_recoveries.episode_number,
        episode_recoveries.peak_date,
        episode_troughs.trough_date,
        episode_recoveries.recovery_date,
        episode_recoveries.max_drawdown,
        row_number() over (
            partition by episode_recoveries.{{ partition_column }}
            order by episode_recoveries.max_drawdown, episode_recoveries.peak_date
        ) as depth_rank,
    from episode_recoveries
    inner join episode_troughs
        on episode_recoveries.{{ partition_column }} = episode_troughs.{{ partition_column }}
        and episode_recoveries.episode_number = episode_troughs.episode_number
        and episode_troughs.trough_rank = 1
    -- a high-water mark followed by another one at once is no episode
    where episode_recoveries.max_drawdown < 0

)
{% endmacro %}
