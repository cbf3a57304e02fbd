{#-
    The run's vars as given, never rendered.

    dbt renders a string var as Jinja whenever project code calls var() on
    it (dbt/context/base.py, Var.get_rendered_var), so `{{ run_query(..) }}`
    in a run id would run before any check could refuse it. Project code
    therefore reads a user's vars only through these macros: the values dbt
    parsed from --vars (invocation_args_dict, plain YAML, never rendered),
    else a value the project's own dbt_project.yml sets, else the default of
    the run parameter's definition (models/run/_run__models.yml). The gate
    (python/allocator/run_config.py) then refuses any value holding braces,
    a control character or a URL before anything reads a file.
-#}

{#- The --vars of this invocation as dbt parsed them (a mapping). -#}
{% macro given_vars() -%}
    {%- set given = invocation_args_dict.get('vars') or {} -%}
    {%- if given is string -%}
        {%- set given = fromyaml(given) or {} -%}
    {%- endif -%}
    {{ return(given if given is mapping else {}) }}
{%- endmacro %}


{#- The run parameters' definitions: stg_run_config's columns with meta.var
    (the tuning's: stg_tuning_config's). -#}
{% macro run_parameters(model_name='stg_run_config') -%}
    {#- a unit test compiles its model with a graph that has no nodes -#}
    {%- set node = (graph.get('nodes') or {}).get('model.' ~ project_name ~ '.' ~ model_name) if execute else none -%}
    {%- set found = [] -%}
    {%- for column in (node.columns.values() if node else []) if (column.meta or {}).get('var') -%}
        {%- do found.append(column) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- The dbt vars a run (or a tuning) reads (allocator_v1 once for its keys). -#}
{% macro run_var_names(model_name='stg_run_config') -%}
    {%- set names = [] -%}
    {%- for column in allocator.run_parameters(model_name) -%}
        {%- set name = column.meta['var'].split('.')[0] -%}
        {%- if name not in names -%}
            {%- do names.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{#- One var as given (never rendered); else the project's own; else its
    definition's default (none when it has none, or while dbt parses). -#}
{% macro run_var(name, default=none) -%}
    {%- set given = allocator.given_vars() -%}
    {%- if name in given -%}
        {{ return(given[name]) }}
    {%- elif var.has_var(name) -%}
        {#- dbt_project.yml is the project's own code, not a caller's value -#}
        {{ return(var(name)) }}
    {%- endif -%}
    {%- for column in allocator.run_parameters() + allocator.run_parameters('stg_tuning_config')
        if column.meta['var'] == name and 'default' in column.meta -%}
        {{ return(column.meta['default']) }}
    {%- endfor -%}
    {{ return(default) }}
{%- endmacro %}


{#- A value as JSON can hold it: dates and other YAML scalars as text. -#}
{% macro json_safe(value) -%}
    {%- if value is mapping -%}
        {%- set out = {} -%}
        {%- for key, item in value.items() -%}
            {%- do out.update({key | string: allocator.json_safe(item)}) -%}
        {%- endfor -%}
        {{ return(out) }}
    {%- elif value is string or value is number or value is none -%}
        {{ return(value) }}
    {%- elif value is iterable -%}
        {%- set out = [] -%}
        {%- for item in value -%}
            {%- do out.append(allocator.json_safe(item)) -%}
        {%- endfor -%}
        {{ return(out) }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}


{#- `names`' vars as given, as JSON text in a SQL literal (the resolvers'
    input). Only vars that are set are passed. -#}
{% macro given_vars_literal(names) -%}
    {%- set given = {} -%}
    {%- for name in names -%}
        {%- set value = allocator.run_var(name, none) -%}
        {%- if value is not none -%}
            {%- do given.update({name: allocator.json_safe(value)}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ allocator.sql_literal(tojson(given, sort_keys=true)) }}
{%- endmacro %}


{#- The sweep's pre-hook: DuckDB's memory limit as the tuning's config
    resolved and checked it (stg_tuning_config.memory_limit), never a var. -#}
{% macro set_tuning_memory_limit() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set limit = run_query("select memory_limit from " ~ ref('stg_tuning_config')).rows[0][0] -%}
    set memory_limit = {{ allocator.sql_literal(limit) }}
{%- endmacro %}
