{#- The tuning vars exactly as given to this dbt invocation, as JSON text: a
    SQL model because dbt renders it when the build runs, with this
    invocation's --vars (stg_tuning_config resolves them). -#}
{%- set given = {} -%}
{%- for name in ['tuning_id', 'tuning_baseline_run_id', 'tuning_grid_path', 'tuning_objective',
                 'tuning_min_sharpe', 'tuning_min_train_years', 'tuning_pbo_splits'] -%}
    {%- do given.update({name: var(name, none)}) -%}
{%- endfor -%}
with final as (

    select {{ allocator.sql_literal(tojson(given, sort_keys=true)) }} as tuning_vars_json

)

select * from final
