{#-
    The regime classifier's input: the ready state rows of the current run
    plus scale-free derived inputs (macros/regime_input.sql, shared with the
    tuning sweep), so one set of default thresholds suits a 10%-vol futures
    book and a 20%-vol equity book alike. Each derived input uses only
    observations up to its own date (no lookahead).

    Not-ready dates (warm-up) are not here, so the regime series starts at
    the first ready date; nothing is classified on invented features.
-#}
with state as (

    select * from {{ ref('allocator_state_v1') }}

),

ready as (

    select * from state where is_ready

),

{{ allocator.regime_input('ready') }},

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
        rvol_ratio_long_run,
        dd_vol_units,
        dd_slope_vol_units,
        dd_level_252d,
        dd_level_504d,
        dd_252d_vol_units,
        dd_504d_vol_units,
    from regime_input

)

select * from final
