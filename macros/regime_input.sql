{#-
    The regime classifier's scale-free derived inputs over a book's ready
    state rows, one definition for a run (int_allocator_regime_input) and a
    tuning sweep over a stored baseline (stg_tuning__regime_input). Each uses
    only observations up to its own date (no lookahead). Produces CTEs ending
    in `regime_input`: the state's columns plus port_rvol_long_run,
    rvol_ratio_long_run, dd_vol_units, dd_slope_vol_units,
    dd_252d_vol_units and dd_504d_vol_units.
-#}
{% macro regime_input(ready_relation) %}
    regime_input_long_run as (

    select
        *,
        -- the book's own long-run volatility: the expanding mean of its 60-day
        -- vol over the ready observations up to today. Expanding, not trailing:
        -- after a book has been quiet for a year (e.g. offsetting sleeves in
        -- 2009) a trailing mean would make its normal vol look like a shock.
        avg(port_rvol_60d) over (order by date rows between unbounded preceding and current row) as port_rvol_long_run,
    from {{ ready_relation }}

),

regime_input as (

    select
        *,
        port_rvol_20d / nullif(port_rvol_long_run, 0) as rvol_ratio_long_run,
        dd_level / nullif(port_rvol_long_run, 0) as dd_vol_units,
        dd_slope_10d / nullif(port_rvol_long_run, 0) as dd_slope_vol_units,
        dd_level_252d / nullif(port_rvol_long_run, 0) as dd_252d_vol_units,
        dd_level_504d / nullif(port_rvol_long_run, 0) as dd_504d_vol_units,
    from regime_input_long_run

)
{%- endmacro %}
