{#- The baseline's weights per sleeve and recorded rebalance: what a
    configuration with sleeve scalars (grid axis sleeve_scalars) scales
    sleeve by sleeve, as int_exposure_sleeve_scaled_book does in a run. -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

sleeve_weights as (

    select * from {{ source('published_artifacts', 'strategy_sleeve_weights') }}

),

final as (

    select
        sleeve_weights.rebalance_date,
        sleeve_weights.sleeve,
        sleeve_weights.symbol,
        sleeve_weights.weight,
    from sleeve_weights
    inner join tuning_config
        on sleeve_weights.run_id = tuning_config.baseline_run_id

)

select * from final
