{#- The run's vars exactly as given to this dbt invocation, as JSON text: the
    input of the resolver (stg_run__resolved). A SQL model because dbt renders
    it when the build runs, with this invocation's --vars, while a Python
    model's config is fixed when the project is parsed. -#}
with final as (

    select {{ allocator.run_vars_literal() }} as run_vars_json

)

select * from final
