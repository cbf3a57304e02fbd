{#-
    Sleeve concentration: on each date, the Herfindahl index of the sleeves'
    shares of total absolute trailing-60-observation PnL,
        sum_k (|pnl_k| / sum_j |pnl_j|)^2,
    where pnl_k is the sum of sleeve k's daily contributions
    (sleeve_returns.sleeve_return) over the window. 1 / (number of sleeves)
    means PnL is spread evenly, 1 means one sleeve made all of it. Every
    sleeve of the run counts on every date (0 on days it held nothing);
    null when the total is 0. The warm-up sessions before start
    (allocator_state_v1_warm_up_holdings) count as observations too.
-#}
{%- set windows = allocator.allocator_state_windows() -%}

with observations as (

    select * from {{ ref('int_allocator_observations') }}

),

recorded_sleeve_returns as (

    select * from {{ ref('sleeve_returns') }}

),

warm_up_holdings as (

    select * from {{ ref('allocator_state_v1_warm_up_holdings') }}

),

sleeve_returns as (

    -- the recorded book's sleeves, after the warm-up's before start
    select date, sleeve, sleeve_return, from recorded_sleeve_returns
    union all
    select date, sleeve, sum(contribution) as sleeve_return,
    from warm_up_holdings
    group by date, sleeve

),

sleeves as (

    select distinct sleeve from sleeve_returns

),

sleeve_days as (

    select
        observations.date,
        observations.observation_index,
        sleeves.sleeve,
        coalesce(sleeve_returns.sleeve_return, 0.0) as sleeve_return,
    from observations
    cross join sleeves
    left join sleeve_returns
        on sleeve_returns.date = observations.date
        and sleeve_returns.sleeve = sleeves.sleeve

),

sleeve_windows as (

    select
        date,
        sleeve,
        abs(sum(sleeve_return) over (
            partition by sleeve order by observation_index {{ allocator.trailing_rows(windows['concentration']) }}
        )) as abs_pnl_60d,
    from sleeve_days

),

totals as (

    select
        *,
        sum(abs_pnl_60d) over (partition by date) as total_abs_pnl_60d,
    from sleeve_windows

),

final as (

    select
        date,
        case
            when max(total_abs_pnl_60d) > 0
            then sum((abs_pnl_60d / total_abs_pnl_60d) * (abs_pnl_60d / total_abs_pnl_60d))
        end as sleeve_concentration_60d,
        count(*) as sleeves,
    from totals
    group by date

)

select * from final
