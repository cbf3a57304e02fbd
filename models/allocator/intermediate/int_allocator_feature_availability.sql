{#-
    Which state features the current run can compute, and why not when it
    cannot. One row per feature. A missing feature is left out of the state
    (its column stays null on every date) and listed, with this reason, in
    allocator_state_v1_meta.features_missing; it is never set to a value.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

weights as (

    -- in a live update with the run's stored rows: these facts span its history
    select symbol from {{ ref('weights_raw') }}
    {{ allocator.live_stored_rows('weights_raw', 'symbol') }}

),

sleeve_returns as (

    -- in a live update with the run's stored rows: these facts span its history
    select sleeve from {{ ref('sleeve_returns') }}
    {{ allocator.live_stored_rows('sleeve_returns', 'sleeve') }}

),

trend_units as (

    -- in a live update with the run's stored rows: these facts span its history
    select date from {{ ref('trend_unit_returns') }}
    {{ allocator.live_stored_rows('trend_unit_returns', 'date') }}

),

inputs as (

    select
        run_config.portfolio_source,
        (select count(distinct symbol) from weights) as held_symbols,
        (select count(distinct sleeve) from sleeve_returns) as sleeve_count,
        (select min(sleeve) from sleeve_returns) as only_sleeve,
        (select count(*) from trend_units) as trend_unit_rows,
    from run_config

),

features as (

    select * from (
        values
            (1, 'port_rvol_20d', 'volatility'),
            (2, 'port_rvol_60d', 'volatility'),
            (3, 'vol_accel', 'volatility'),
            (4, 'dd_level', 'drawdown'),
            (5, 'dd_slope_10d', 'drawdown'),
            (6, 'corr_20d', 'correlation'),
            (7, 'corr_60d', 'correlation'),
            (8, 'corr_shock', 'correlation'),
            (9, 'trend_breadth_20d', 'engine_health'),
            (10, 'sleeve_concentration_60d', 'engine_health'),
            (11, 'corr_excess', 'correlation'),
            (12, 'dd_level_252d', 'drawdown'),
            (13, 'dd_level_504d', 'drawdown')
    ) as feature_list (sort_order, feature, feature_group)

),

reasons as (

    select
        features.sort_order,
        features.feature,
        features.feature_group,
        case
            when features.feature_group = 'correlation' and inputs.portfolio_source = 'returns_file'
                then 'returns-only portfolio: no holdings, so no symbols to correlate'
            when features.feature_group = 'correlation' and inputs.held_symbols < 2
                then 'fewer than two symbols held: no pair to correlate'
            when features.feature = 'trend_breadth_20d' and inputs.portfolio_source = 'returns_file'
                then 'returns-only portfolio: no sleeves or trend units'
            when features.feature = 'trend_breadth_20d' and inputs.trend_unit_rows = 0
                then 'no trend sleeve in the portfolio'
            when features.feature = 'sleeve_concentration_60d' and inputs.portfolio_source = 'returns_file'
                then 'returns-only portfolio: no sleeves'
            when features.feature = 'sleeve_concentration_60d' and inputs.sleeve_count < 2
                then 'single sleeve (' || coalesce(inputs.only_sleeve, 'none') || '): concentration is 1 by construction'
        end as missing_reason,
    from features
    cross join inputs

),

final as (

    select
        sort_order,
        feature,
        feature_group,
        missing_reason is null as is_present,
        missing_reason,
    from reasons

)

select * from final
