{#- The baseline's regime inputs: its published ready state rows and the
    derived inputs of macros/regime_input.sql, the classifier's input of a
    run (int_allocator_regime_input), so every configuration reads the
    features the baseline's own regime read. -#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

state as (

    select * from {{ source('published_artifacts', 'allocator_state_v1') }}

),

ready as (

    select state.* exclude (run_id),
    from state
    inner join tuning_config
        on state.run_id = tuning_config.baseline_run_id
    where state.is_ready

),

{{ allocator.regime_input('ready') }},

final as (

    select * exclude (is_ready, correlation_method) from regime_input

)

select * from final
