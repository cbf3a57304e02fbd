{#- The baseline's unscaled weights per recorded rebalance: the positions
    whose change a configuration's turnover prices. -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

weights as (

    select * from {{ source('published_artifacts', 'weights_raw') }}

),

final as (

    select
        weights.rebalance_date,
        weights.symbol,
        weights.weight,
    from weights
    inner join tuning_config
        on weights.run_id = tuning_config.baseline_run_id

)

select * from final
