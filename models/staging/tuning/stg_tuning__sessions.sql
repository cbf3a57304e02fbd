{#- The baseline's unscaled book, one row per session: what every
    configuration scales and prices (macros/price_exposure.sql's inputs). -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

unscaled as (

    select * from {{ source('published_artifacts', 'portfolio_returns_unscaled') }}

),

final as (

    select
        unscaled.date,
        unscaled.held_rebalance_date,
        unscaled.gross_return,
        unscaled.turnover,
        unscaled.net_return,
    from unscaled
    inner join tuning_config
        on unscaled.run_id = tuning_config.baseline_run_id

)

select * from final
