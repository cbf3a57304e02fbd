{#-
    Pass 2 of the two-pass audit without recomputing what the scalars cannot
    change. A scaled run (mode precomputed from a stored run) sees the same
    inputs, profile, window, regime calibration and allocator parameters as
    its baseline, so its typed inputs, strategy, execution, state, regime and
    risk layers (the models tagged `unscaled`) equal the baseline's. With var
    reuse_baseline_layers: true, stg_run_config checks that claim and its
    post-hook copies the baseline's rows of the run-keyed `unscaled` models to
    the new run_id; the build excludes tag:unscaled (the allocator CLI does
    both). Copying also makes those layers bit-for-bit equal to the
    baseline's, where a recomputation can differ in the last bit of a float.

    The unkeyed `unscaled` tables (staging, int_*) are not copied: the scaled
    run reads what the last build left in them. So the copy is allowed only
    right after a build of the baseline itself (stg_run_config still holds
    the baseline's configuration), and only when the build leaves every
    `unscaled` model out.
-#}


{#- Settings of a run that decide its unscaled layers: everything in
    config_json except the allocator's mode and where its scalars come from. -#}
{% macro unscaled_config(config_json) -%}
    {%- set config = fromjson(config_json) -%}
    {%- do config.pop('allocator_v1', none) -%}
    {%- do config.pop('precomputed_source', none) -%}
    {{ return(config) }}
{%- endmacro %}


{#- Fails unless copying the baseline's unscaled layers gives what recomputing
    them would: the baseline is registered with the same configuration (bar the
    allocator's mode and scalar source), it was the last build in this
    database (previous_config: stg_run_config before this build replaces it),
    and this build recomputes no `unscaled` model. Called by stg_run_config at
    execution, before anything is written. -#}
{% macro assert_reusable_baseline(run_id, baseline_run_id, config_json, previous_config) -%}
    {%- set registry = source('allocator_artifacts', 'runs') -%}
    {%- set stored = adapter.get_relation(registry.database, registry.schema, registry.identifier) -%}
    {%- set rows = [] -%}
    {%- if stored -%}
        {%- set rows = run_query("select config_json from " ~ stored ~ " where run_id = '" ~ baseline_run_id ~ "'").rows -%}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers needs baseline '" ~ baseline_run_id ~ "' in the runs registry, and it is not there: build the baseline first or drop reuse_baseline_layers") }}
    {%- endif -%}
    {%- set differing = allocator.unscaled_config_differences(rows[0][0], config_json) -%}
    {%- if differing -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers needs the baseline's configuration, but baseline '" ~ baseline_run_id ~ "' differs in " ~ differing | join('; ') ~ ". Rebuild without reuse_baseline_layers.") }}
    {%- endif -%}

    {%- set recomputed = [] -%}
    {%- for unique_id in selected_resources
        if unique_id in graph.nodes and 'unscaled' in graph.nodes[unique_id].tags
        and graph.nodes[unique_id].resource_type == 'model' -%}
        {%- do recomputed.append(graph.nodes[unique_id].name) -%}
    {%- endfor -%}
    {%- if recomputed -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers copies the `unscaled` layers from baseline '" ~ baseline_run_id ~ "', but this build also selects " ~ allocator.name_list(recomputed) ~ ": add --exclude tag:unscaled") }}
    {%- endif -%}

    {%- set last = adapter.get_relation(previous_config.database, previous_config.schema, previous_config.identifier) -%}
    {%- set last_rows = run_query("select run_id, config_json from " ~ last).rows if last else [] -%}
    {%- if last_rows | length != 1 or last_rows[0][0] != baseline_run_id
        or allocator.unscaled_config_differences(last_rows[0][1], config_json) -%}
        {%- set last_build = "run '" ~ last_rows[0][0] ~ "'" if last_rows | length == 1 else 'none' -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers reads the unkeyed tables (staging, int_*) that the last build left, so it must follow a build of baseline '" ~ baseline_run_id ~ "' with the same configuration; the last build was " ~ last_build ~ (" with another configuration" if last_rows and last_rows[0][0] == baseline_run_id else '') ~ ". Build '" ~ baseline_run_id ~ "' again first (the allocator CLI's two-pass does), or drop reuse_baseline_layers.") }}
    {%- endif -%}
{%- endmacro %}


{#- The settings in which two configurations (config_json texts) would give
    different unscaled layers, as "key: baseline's value, this run's value",
    nested keys dotted (regime_calibration.target_scalars.STRESS). -#}
{% macro unscaled_config_differences(baseline_config_json, config_json) -%}
    {%- set wanted = allocator.flatten_config(allocator.unscaled_config(config_json)) -%}
    {%- set found = allocator.flatten_config(allocator.unscaled_config(baseline_config_json)) -%}
    {%- set differing = [] -%}
    {%- for key in (wanted.keys() | list + found.keys() | list) | unique | sort if wanted.get(key) != found.get(key) -%}
        {%- do differing.append(key ~ ": " ~ tojson(found.get(key)) | truncate(120) ~ " in the baseline, " ~ tojson(wanted.get(key)) | truncate(120) ~ " now") -%}
    {%- endfor -%}
    {{ return(differing) }}
{%- endmacro %}


{% macro flatten_config(value, prefix='') -%}
    {%- set flat = {} -%}
    {%- if value is mapping -%}
        {%- for key, item in value.items() -%}
            {%- do flat.update(allocator.flatten_config(item, prefix ~ key ~ '.')) -%}
        {%- endfor -%}
    {%- else -%}
        {%- do flat.update({prefix[:-1]: value}) -%}
    {%- endif -%}
    {{ return(flat) }}
{%- endmacro %}


{#- A build that rewrites a run's configuration (selects stg_run_config) must
    rebuild every model its selected models read, or it mixes rows of an
    earlier build (of this run_id or, for unkeyed tables, of another run) into
    the run. The one exception: with reuse_baseline_layers the `unscaled`
    models are left out on purpose (see assert_reusable_baseline). -#}
{% macro assert_selection_builds_the_run(run_id, reuse_baseline_layers, scaled_run=false) -%}
    {%- set left_out = [] -%}
    {%- set unscaled_left_out = [] -%}
    {%- for unique_id in selected_resources if unique_id in graph.nodes
        and graph.nodes[unique_id].resource_type == 'model' -%}
        {%- for parent_id in graph.nodes[unique_id].depends_on.nodes
            if parent_id not in selected_resources and parent_id in graph.nodes
            and graph.nodes[parent_id].resource_type == 'model' -%}
            {%- set parent = graph.nodes[parent_id] -%}
            {%- if not (reuse_baseline_layers and 'unscaled' in parent.tags) -%}
                {%- do left_out.append(parent.name) -%}
                {%- if 'unscaled' in parent.tags -%}
                    {%- do unscaled_left_out.append(parent.name) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if left_out -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': this build writes the run's configuration (stg_run_config) but leaves out " ~ allocator.name_list(left_out) ~ ", which the selected models read: their rows would come from an earlier build. Select them too" ~ (", or, to copy the `unscaled` layers of a baseline built right before, set reuse_baseline_layers" if unscaled_left_out and scaled_run else '') ~ ".") }}
    {%- endif -%}
{%- endmacro %}


{#- Model names for an error message: sorted, unique, the first few. -#}
{% macro name_list(names, most=6) -%}
    {%- set names = names | unique | sort -%}
    {%- set shown = names[:most] | join(', ') -%}
    {{ return(shown ~ (" and " ~ (names | length - most) ~ " more" if names | length > most else '')) }}
{%- endmacro %}


{#- The run-keyed (incremental) models tagged `unscaled`, in DAG order. -#}
{% macro unscaled_run_keyed_models() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values()
        if 'unscaled' in node.tags and allocator.is_run_keyed_node(node) -%}
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
