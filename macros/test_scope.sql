{#-
    Data tests judge the run being built (`dbt test` on its own judges every
    stored run, as before). dbt's generic tests read their model
    through get_where_subquery; for a run-keyed artifact table (incremental,
    unique_key run_id) this narrows it to the current run_id, so a bad row
    stored by another run fails that run's build, not every later one, and
    the cost of a test does not grow with the number of stored runs. Tables
    without run_id (inputs, seeds, intermediates) are tested whole, as before.
    A test's own `where` config still applies.
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {#- `dbt test` on its own judges every stored run -#}
    {%- if flags.WHICH != 'test' and allocator.is_run_keyed(relation) -%}
        {%- do filters.append("run_id = '" ~ allocator.run_id() ~ "'") -%}
    {%- endif -%}
    {%- if filters -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}


{#- True when the relation a test reads is a model of this project that keeps
    one row set per run_id. Looked up among the test's own dependencies (the
    `model` of this context is the test node), not the whole graph. -#}
{% macro is_run_keyed(relation) -%}
    {%- if not execute or relation.identifier is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for unique_id in model.depends_on.nodes if unique_id in graph.nodes -%}
        {%- set node = graph.nodes[unique_id] -%}
        {%- if allocator.is_run_keyed_node(node) and node.alias | lower == relation.identifier | lower -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}


{#- A graph node of this project's models that keeps one row set per run_id
    (incremental, unique_key run_id: a rebuild replaces exactly its run). -#}
{% macro is_run_keyed_node(node) -%}
    {{ return(
        node.resource_type == 'model' and node.package_name == project_name
        and node.config.materialized == 'incremental'
        and node.config.unique_key == 'run_id'
    ) }}
{%- endmacro %}
