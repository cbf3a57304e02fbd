{#-
    Pass 2 of the two-pass audit without recomputing what the scalars cannot
    change. A scaled run (mode precomputed from a stored run) sees the same
    prices, profile, window and allocator parameters as its baseline, so its
    strategy, execution, state, regime and risk layers (the models tagged
    `unscaled`) equal the baseline's. With var reuse_baseline_layers: true,
    stg_run_config checks that claim against the baseline's registry row and
    its post-hook copies the baseline's rows of the run-keyed `unscaled` models
    to the new run_id; the build then excludes tag:unscaled (the allocator CLI
    does both). Copying also makes those layers bit-for-bit equal to the
    baseline's, where a recomputation can differ in the last bit of a float.

    The unkeyed tables (int_*, staging) are not copied: they still hold what
    the baseline's build left, which is why this is only valid right after
    building the baseline with the same vars.
-#}


{#- Settings of a run that decide its unscaled layers: everything in
    config_json except the allocator's mode and where its scalars come from. -#}
{% macro unscaled_config(config_json) -%}
    {%- set config = fromjson(config_json) -%}
    {%- do config.pop('allocator_v1', none) -%}
    {%- do config.pop('precomputed_source', none) -%}
    {{ return(config) }}
{%- endmacro %}


{#- Fails unless the baseline's stored configuration decides the same unscaled
    layers as the run being built. Called by stg_run_config at execution. -#}
{% macro assert_reusable_baseline(run_id, baseline_run_id, config_json) -%}
    {%- set registry = source('allocator_artifacts', 'runs') -%}
    {%- set stored = adapter.get_relation(registry.database, registry.schema, registry.identifier) -%}
    {%- set rows = [] -%}
    {%- if stored -%}
        {%- set rows = run_query("select config_json from " ~ stored ~ " where run_id = '" ~ baseline_run_id ~ "'").rows -%}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers needs baseline '" ~ baseline_run_id ~ "' in the runs registry, and it is not there: build the baseline first or drop reuse_baseline_layers") }}
    {%- endif -%}
    {%- set wanted = allocator.unscaled_config(config_json) -%}
    {%- set found = allocator.unscaled_config(rows[0][0]) -%}
    {%- set differing = [] -%}
    {%- for key in (wanted.keys() | list + found.keys() | list) | unique | sort if wanted.get(key) != found.get(key) -%}
        {%- do differing.append(key ~ ": " ~ tojson(found.get(key)) ~ " in the baseline, " ~ tojson(wanted.get(key)) ~ " now") -%}
    {%- endfor -%}
    {%- if differing -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers needs the baseline's configuration, but baseline '" ~ baseline_run_id ~ "' differs in " ~ differing | join('; ') ~ ". Rebuild without reuse_baseline_layers.") }}
    {%- endif -%}
{%- endmacro %}


{#- The run-keyed (incremental) models tagged `unscaled`, in DAG order. -#}
{% macro unscaled_run_keyed_models() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model'
        and node.package_name == project_name
        and 'unscaled' in node.tags
        and node.config.materialized == 'incremental' -%}
        {%- do models.append(node) -%}
    {%- endfor -%}
    {{ return(models | sort(attribute='name')) }}
{%- endmacro %}


{#- Post-hook of stg_run_config: the SQL that replaces the run's rows of every
    run-keyed unscaled model with the baseline's, or nothing when the var is off.
    It runs in stg_run_config's transaction, after the configuration was
    validated and before any model that reads those rows. -#}
{% macro reuse_baseline_layers() -%}
    {%- if not execute or not var('reuse_baseline_layers', false) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set run_id = allocator.run_id() -%}
    {%- set baseline_run_id = allocator.allocator_v1_config()['precomputed_run_id'] -%}
    {%- set statements = [] -%}
    {%- for node in allocator.unscaled_run_keyed_models() -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is none -%}
            {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers found no table " ~ node.alias ~ " to copy baseline '" ~ baseline_run_id ~ "' from") }}
        {%- endif -%}
        {%- set columns = [] -%}
        {%- set selected = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do columns.append(adapter.quote(column.name)) -%}
            {%- do selected.append("'" ~ run_id ~ "'" if column.name | lower == 'run_id' else adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- do statements.append("delete from " ~ relation ~ " where run_id = '" ~ run_id ~ "'") -%}
        {%- do statements.append(
            "insert into " ~ relation ~ " (" ~ columns | join(', ') ~ ") select "
            ~ selected | join(', ') ~ " from " ~ relation ~ " where run_id = '" ~ baseline_run_id ~ "'"
        ) -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
