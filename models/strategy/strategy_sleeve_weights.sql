{#-
    Each sleeve's weight per (rebalance, symbol) in the recorded book: the
    rebalances it holds from start (int_sleeve_weights computes every one).
    Sleeve weights always add up to weights_raw.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

calendar as (

    select * from {{ ref('int_rebalance_calendar') }}

),

sleeve_weights as (

    select * from {{ ref('int_sleeve_weights') }}

),

final as (

    select
        run_config.run_id,
        sleeve_weights.rebalance_date,
        sleeve_weights.sleeve,
        sleeve_weights.symbol,
        sleeve_weights.weight,
    from sleeve_weights
    inner join calendar
        on sleeve_weights.rebalance_date = calendar.date
    cross join run_config
    where calendar.is_recorded_rebalance

)

select * from final
