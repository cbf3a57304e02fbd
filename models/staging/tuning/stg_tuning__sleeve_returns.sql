{#- The baseline's gross contribution of each sleeve per session: what a
    sleeve earns at its own scalar under the grid axis sleeve_scalars. -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

sleeve_returns as (

    select * from {{ source('published_artifacts', 'sleeve_returns') }}

),

final as (

    select
        sleeve_returns.date,
        sleeve_returns.sleeve,
        sleeve_returns.sleeve_return,
    from sleeve_returns
    inner join tuning_config
        on sleeve_returns.run_id = tuning_config.baseline_run_id

)

select * from final
