{#-
    Allocator v1 state: eleven features per recorded date, all measured on the
    UNSCALED book (portfolio_returns_unscaled), so the allocator never
    measures the effect of its own scaling. Definitions, column by column, are
    in _allocator__models.yml.

    Warm-up: a date is ready once the book has 60 observations, counted
    from the warm-up sessions before start (allocator_state_v1_warm_up: the
    book's last 59 returns before start), so with that history start is
    ready. Without it, the dates before the 60th observation have every
    feature null and is_ready false: nothing is filled or extrapolated. The
    warm-up rows feed the windows (and the equity the drawdowns compound
    from 1.0) but are not rows of this layer. A feature the run cannot compute
    (see int_allocator_feature_availability) stays null on every date.
-#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
{%- set windows = allocator.allocator_state_windows() -%}
{%- set expanding = 'order by observation_index rows between unbounded preceding and current row' -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

observations as (

    select * from {{ ref('int_allocator_observations') }}

),

correlation as (

    select * from {{ ref('int_allocator_correlation') }}

),

trend_breadth as (

    select * from {{ ref('int_allocator_trend_breadth') }}

),

sleeve_concentration as (

    select * from {{ ref('int_allocator_sleeve_concentration') }}

),

availability as (

    select * from {{ ref('int_allocator_feature_availability') }}

),

{%- if is_incremental() %}

stored_state as (

    -- a live update: the correlation history the expanding mean continues
    select date, corr_60d from {{ this }}

),
{%- endif %}

present as (

    select
        coalesce(bool_or(is_present) filter (where feature = 'corr_20d'), false) as has_correlation,
        coalesce(bool_or(is_present) filter (where feature = 'trend_breadth_20d'), false) as has_trend_breadth,
        coalesce(bool_or(is_present) filter (where feature = 'sleeve_concentration_60d'), false) as has_sleeve_concentration,
    from availability

),

volatility as (

    select
        date,
        observation_index,
        is_warm_up,
        {{ allocator.annualised_vol('net_return', 'order by observation_index ' ~ allocator.trailing_rows(windows['short'])) }} as port_rvol_20d,
        {{ allocator.annualised_vol('net_return', 'order by observation_index ' ~ allocator.trailing_rows(windows['long'])) }} as port_rvol_60d,
        -- equity compounds from 1.0 before the first recorded return
        {{ allocator.cumulative_product('1 + net_return', 'order by observation_index rows between unbounded preceding and current row') }} as equity,
    from observations

),

drawdown as (

    select
        *,
        -- the running maximum includes the starting 1.0, so a loss on day one is a drawdown
        equity / greatest(1.0, max(equity) over (order by observation_index rows between unbounded preceding and current row)) - 1 as dd_level,
        -- the drawdown from the high of the last n observations (the
        -- starting 1.0 counts while it is among them): it releases once a
        -- loss is n sessions old and the book has stopped falling, where
        -- dd_level holds through the whole recovery, which can take a decade
        {%- for n in windows['drawdown_highs'] %}
        equity / case
            when observation_index <= {{ n }}
                then greatest(1.0, max(equity) over (order by observation_index {{ allocator.trailing_rows(n) }}))
            else max(equity) over (order by observation_index {{ allocator.trailing_rows(n) }})
        end - 1 as dd_level_{{ n }}d,
        {%- endfor %}
    from volatility

),

drawdown_slope as (

    select
        *,
        dd_level - lag(dd_level, {{ windows['slope'] }}) over (order by observation_index) as dd_slope_10d,
    from drawdown

),

features as (

    select
        drawdown_slope.date,
        drawdown_slope.observation_index >= {{ windows['warm_up'] }} as is_ready,
        drawdown_slope.port_rvol_20d,
        drawdown_slope.port_rvol_60d,
        drawdown_slope.port_rvol_20d / nullif(drawdown_slope.port_rvol_60d, 0) as vol_accel,
        drawdown_slope.dd_level,
        drawdown_slope.dd_slope_10d,
        {%- for n in windows['drawdown_highs'] %}
        drawdown_slope.dd_level_{{ n }}d,
        {%- endfor %}
        case when present.has_correlation then correlation.corr_20d end as corr_20d,
        case when present.has_correlation then correlation.corr_60d end as corr_60d,
        case when present.has_trend_breadth then trend_breadth.trend_breadth_20d end as trend_breadth_20d,
        case when present.has_sleeve_concentration then sleeve_concentration.sleeve_concentration_60d end as sleeve_concentration_60d,
        case when present.has_correlation then correlation.correlation_method end as correlation_method,
        {%- if is_incremental() %}
        -- stored dates: the stored value (the update computes correlations
        -- only over its lookback)
        case
            when stored_state.date is not null then stored_state.corr_60d
            when present.has_correlation then correlation.corr_60d
        end as corr_60d_to_date,
        {%- else %}
        case when present.has_correlation then correlation.corr_60d end as corr_60d_to_date,
        {%- endif %}
        drawdown_slope.observation_index,
        drawdown_slope.is_warm_up,
    from drawdown_slope
    cross join present
    left join correlation
        on drawdown_slope.date = correlation.date
    left join trend_breadth
        on drawdown_slope.date = trend_breadth.date
    left join sleeve_concentration
        on drawdown_slope.date = sleeve_concentration.date
    {%- if is_incremental() %}
    -- read by corr_60d_to_date's incremental branch (sqlfluff lints the branches apart)
    left join stored_state  -- noqa: ST11
        on drawdown_slope.date = stored_state.date
    {%- endif %}

),

correlation_history as (

    select
        *,
        -- the book's own long-run correlation: the expanding mean of its
        -- 60-day correlation over the ready observations up to the date, as
        -- port_rvol_long_run is for vol, so a universe that is always highly
        -- correlated does not read as permanently stressed
        avg(case when is_ready then corr_60d_to_date end) over ({{ expanding }}) as corr_long_run,
        count(case when is_ready then corr_60d_to_date end) over ({{ expanding }}) as corr_history_observations,
    from features

),

correlation_excess as (

    select
        *,
        -- the rise of the 20-day correlation above the long-run level, as a
        -- share of the room left to 1 (0 = at the book's norm, 1 = perfect
        -- correlation); inert until the history is long enough to be a norm
        case
            when corr_history_observations >= {{ windows['corr_history'] }}
                then (corr_20d - corr_long_run) / nullif(1 - corr_long_run, 0)
        end as corr_excess,
    from correlation_history

),

final as (

    select
        run_config.run_id,
        features.date,
        case when features.is_ready then features.port_rvol_20d end as port_rvol_20d,
        case when features.is_ready then features.port_rvol_60d end as port_rvol_60d,
        case when features.is_ready then features.vol_accel end as vol_accel,
        case when features.is_ready then features.dd_level end as dd_level,
        case when features.is_ready then features.dd_slope_10d end as dd_slope_10d,
        case when features.is_ready then features.corr_20d end as corr_20d,
        case when features.is_ready then features.corr_60d end as corr_60d,
        case when features.is_ready then features.corr_20d - features.corr_60d end as corr_shock,
        case when features.is_ready then features.trend_breadth_20d end as trend_breadth_20d,
        case when features.is_ready then features.sleeve_concentration_60d end as sleeve_concentration_60d,
        features.is_ready,
        features.correlation_method,
        -- last, so the seeds' file layout (ten features, is_ready) leads
        case when features.is_ready then features.corr_excess end as corr_excess,
        {%- for n in windows['drawdown_highs'] %}
        case when features.is_ready then features.dd_level_{{ n }}d end as dd_level_{{ n }}d,
        {%- endfor %}
    from correlation_excess as features
    cross join run_config
    -- the warm-up sessions before start are inputs only
    where not features.is_warm_up

)

select * from final
{{ allocator.live_new_rows('date') }}
