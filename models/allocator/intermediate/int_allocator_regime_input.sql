{#-
    The regime classifier's input: the ready state rows of the current run
    plus scale-free derived inputs, so one set of default thresholds suits a
    10%-vol futures book and a 20%-vol equity book alike. Each derived input
    uses only observations up to its own date (no lookahead).

    Not-ready dates (warm-up) are not here, so the regime series starts at
    the first ready date; nothing is classified on invented features.
-#}
with state as (

    select * from {{ ref('allocator_state_v1') }}

),

ready as (

    select * from state where is_ready

),

long_run as (

    select
        *,
        -- the book's own long-run volatility: the expanding mean of its 60-day
        -- vol over the ready observations up to today. Expanding, not trailing:
        -- after a book has been quiet for a year (e.g. offsetting sleeves in
        -- 2009) a trailing mean would make its normal vol look like a shock.
        avg(port_rvol_60d) over (order by date rows between unbounded preceding and current row) as port_rvol_long_run,
    from ready

),

final as (

    select
        date,
        port_rvol_20d,
        port_rvol_60d,
        vol_accel,
        dd_level,
        dd_slope_10d,
        corr_20d,
        corr_60d,
        corr_shock,
        corr_excess,
        trend_breadth_20d,
        sleeve_concentration_60d,
        port_rvol_long_run,
        port_rvol_20d / nullif(port_rvol_long_run, 0) as rvol_ratio_long_run,
        dd_level / nullif(port_rvol_long_run, 0) as dd_vol_units,
        dd_slope_10d / nullif(port_rvol_long_run, 0) as dd_slope_vol_units,
    from long_run

)

select * from final
