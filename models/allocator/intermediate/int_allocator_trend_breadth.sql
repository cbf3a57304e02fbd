{#-
    Trend breadth: on each date, the share of the trend sleeve's units (the
    symbols it holds that day) whose trailing 20-observation cumulative unit
    return is positive. A unit's return is its contribution to the book
    (held weight x symbol return, trend_unit_returns.unit_return), so its
    cumulative return is the sum of its contributions: contributions add up
    to sleeve PnL, they do not compound on their own. Observations on which
    the symbol was not held contribute 0. The warm-up sessions before start
    (allocator_state_v1_warm_up_holdings) count as observations too.
-#}
{%- set windows = allocator.allocator_state_windows() -%}

with observations as (

    select * from {{ ref('int_allocator_observations') }}

),

recorded_units as (

    select * from {{ ref('trend_unit_returns') }}

),

warm_up_holdings as (

    select * from {{ ref('allocator_state_v1_warm_up_holdings') }}

),

trend_units as (

    -- the recorded book's units, after the warm-up's before start
    select date, symbol, unit_return, from recorded_units
    union all
    select date, symbol, contribution as unit_return,
    from warm_up_holdings
    where sleeve = 'trend'

),

unit_windows as (

    select
        trend_units.date,
        trend_units.symbol,
        -- a range frame on the observation number skips the days the unit was not held
        sum(trend_units.unit_return) over (
            partition by trend_units.symbol
            order by observations.observation_index
            range between {{ windows['breadth'] - 1 }} preceding and current row
        ) as unit_return_20d,
    from trend_units
    inner join observations
        on trend_units.date = observations.date

),

final as (

    select
        date,
        avg(case when unit_return_20d > 0 then 1.0 else 0.0 end) as trend_breadth_20d,
        count(*) as trend_units,
    from unit_windows
    group by date

)

select * from final
