{#-
    Each sleeve's weight per (rebalance, symbol) at every rebalance the
    strategy decides (int_asset_signals, int_sleeve_scales) or the weights
    file states: risk budget x vol-target
    scale x unit weight, then every sleeve scaled by the same factor if the
    combined book's gross exposure exceeds the leverage cap. The recorded
    book (strategy_sleeve_weights) keeps the rebalances it holds from start;
    the allocator's warm-up (allocator_state_v1_warm_up_holdings) the ones it
    holds in the sessions just before start. One computation for both, so
    the book warmed up on is the book that runs.
-#}

-- depends_on: {{ ref('stg_portfolio__weights') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

{%- if allocator.portfolio_source() == 'weights_file' %}

file_weights as (

    select * from {{ ref('stg_portfolio__weights') }}

),

sleeve_weights as (

    select
        date as rebalance_date,
        sleeve,
        symbol,
        weight,
    from file_weights

),

{%- elif allocator.portfolio_source() == 'returns_file' %}

sleeve_weights as (

    -- a returns-only portfolio has no holdings
    select
        cast(null as date) as rebalance_date,
        cast(null as {{ dbt.type_string() }}) as sleeve,
        cast(null as {{ dbt.type_string() }}) as symbol,
        cast(null as {{ dbt.type_float() }}) as weight,
    where false

),

{%- else %}

unit_weights as (

    select * from {{ ref('int_sleeve_unit_weights') }}

),

scales as (

    select * from {{ ref('int_sleeve_scales') }}

),

budgeted as (

    select
        unit_weights.rebalance_date,
        unit_weights.sleeve,
        unit_weights.symbol,
        scales.risk_budget * scales.vol_scale * unit_weights.unit_weight as weight,
    from unit_weights
    inner join scales
        on unit_weights.rebalance_date = scales.rebalance_date
        and unit_weights.sleeve = scales.sleeve

),

book_gross as (

    select rebalance_date, sum(abs(symbol_weight)) as gross_exposure,
    from (
        select rebalance_date, symbol, sum(weight) as symbol_weight,
        from budgeted
        group by rebalance_date, symbol
    ) as per_symbol
    group by rebalance_date

),

sleeve_weights as (

    select
        budgeted.rebalance_date,
        budgeted.sleeve,
        budgeted.symbol,
        budgeted.weight * least(1.0, run_config.leverage_cap / book_gross.gross_exposure) as weight,
    from budgeted
    inner join book_gross
        on budgeted.rebalance_date = book_gross.rebalance_date
    cross join run_config
    where book_gross.gross_exposure > 0

),

{%- endif %}

final as (

    select
        rebalance_date,
        sleeve,
        symbol,
        weight,
    from sleeve_weights

)

select * from final
