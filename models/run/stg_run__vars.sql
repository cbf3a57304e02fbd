{#- The run's vars exactly as given to this dbt invocation, as JSON text: the
    input of the resolver (stg_run__resolved). Read by macros/run_vars.sql
    from dbt's parsed command line, never rendered as Jinja; which vars: the
    run parameters of stg_run_config's contract. A SQL model because it is
    compiled when the build runs, with this invocation's --vars, while a
    Python model's config is fixed when the project is parsed. -#}
{%- set names = allocator.run_var_names() -%}
{#- a live update ends at its file's last date unless end is given
    (python/allocator/live.py): end's default is not passed -#}
{%- if allocator.is_live_update() and 'end' not in allocator.given_vars() -%}
    {%- set names = names | reject('equalto', 'end') | list -%}
{%- endif %}
with final as (

    select {{ allocator.given_vars_literal(names) }} as run_vars_json

)

select * from final
