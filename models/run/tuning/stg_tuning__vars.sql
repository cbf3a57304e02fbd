{#- The tuning vars exactly as given to this dbt invocation, as JSON text,
    read as given and never rendered (macros/run_vars.sql); which vars: the
    meta.var of stg_tuning_config's columns (stg_tuning_config resolves
    them). -#}
with final as (

    select {{ allocator.given_vars_literal(allocator.run_var_names('stg_tuning_config')) }} as tuning_vars_json

)

select * from final
