{#-
    A run is built, tested and published as one unit.

    Every node builds plain tables holding only the run being built, in the
    schema `build`, and its tests run there. The on-run-end hook publishes
    them into the shared run-keyed tables (`artifacts.*` for the layers,
    `marts.*` for what users and BI read) only when every model of the run
    was built (or linked from its baseline) in this invocation and no node
    or test failed, and does so in one transaction: a failure, a failing
    test, kill -9 or a full disk at any point leaves every stored run,
    this run's previous build included, as it was.
-#}

{#- The publishing models of this project, as {name: schema}. -#}
{% macro published_models() -%}
    {%- set published = {} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.enabled and (node.config.meta or {}).get('publish') -%}
        {%- do published.update({node.name: node.config.meta['publish']}) -%}
    {%- endfor -%}
    {{ return(published) }}
{%- endmacro %}


{#- True for the commands that build a run. Only `dbt build` tests what it
    builds, so only it publishes; `dbt run` builds without storing. -#}
{% macro is_build_command() -%}
    {{ return(flags.WHICH in ['build', 'run', 'retry']) }}
{%- endmacro %}


{#- Models that a scaled run with reuse_baseline_layers reads from its
    baseline's published rows: the published models tagged `unscaled`. -#}
{% macro baseline_layers() -%}
    {%- set layers = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.enabled and 'unscaled' in node.tags
        and (node.config.meta or {}).get('publish') == 'artifacts' -%}
        {%- do layers.append(node.name) -%}
    {%- endfor -%}
    {{ return(layers | sort) }}
{%- endmacro %}


{#- on-run-start: with reuse_baseline_layers, the baseline's published
    unscaled layers become views in `build`, where the scaled run's models
    read them, instead of being recomputed. The gate then checks that the
    baseline was built with this run's configuration; if not, the build
    fails and nothing is published. -#}
{% macro link_baseline_layers() -%}
    {%- if not execute or not allocator.is_build_command() -%}
        {{ return('') }}
    {%- endif -%}
    {#- before the gate is built: the vars as given, never rendered (the
        baseline id reaches SQL only as a quoted literal, and the gate then
        refuses any id that is not a stored baseline's) -#}
    {%- set block = allocator.run_var('allocator_v1', {}) or {} -%}
    {%- set baseline = block.get('precomputed_run_id') if block is mapping else none -%}
    {%- if (allocator.run_var('reuse_baseline_layers', false) | string | lower) != 'true' or not baseline -%}
        {{ return('') }}
    {%- endif -%}
    {#- the linked views stand where these models' tables would be built:
        building both would make dbt replace a view it takes for a table -#}
    {%- set rebuilt = [] -%}
    {%- for unique_id in selected_resources
        if unique_id in graph.nodes and 'unscaled' in graph.nodes[unique_id].tags
        and graph.nodes[unique_id].resource_type == 'model' -%}
        {%- do rebuilt.append(graph.nodes[unique_id].name) -%}
    {%- endfor -%}
    {%- if rebuilt -%}
        {{ exceptions.raise_compiler_error(
            "reuse_baseline_layers: true reads the baseline " ~ baseline ~ "'s published layers instead of building them, "
            ~ "but this invocation also selects " ~ rebuilt | length ~ " of those models (" ~ (rebuilt | sort)[:3] | join(', ')
            ~ ", ...). Add --exclude tag:unscaled, or drop reuse_baseline_layers to rebuild them. Nothing was stored.") }}
    {%- endif -%}
    {%- set statements = ['create schema if not exists ' ~ target.schema] -%}
    {#- what a previous build left under each name: a table, or a view of an
        earlier link (DuckDB drops an object only as its own type) -#}
    {%- set existing = allocator.schema_relations(target.schema) -%}
    {%- for name in allocator.baseline_layers() -%}
        {%- set relation = target.schema ~ '.' ~ name -%}
        {%- if name in existing -%}
            {%- do statements.append('drop ' ~ existing[name] ~ ' ' ~ relation) -%}
        {%- endif -%}
        {%- do statements.append(
            'create view ' ~ relation ~ ' as select * replace ((select run_id from '
            ~ target.schema ~ '.stg_run_config) as run_id) from artifacts.' ~ name
            ~ ' where run_id = ' ~ allocator.sql_literal(baseline)
        ) -%}
    {%- endfor -%}
    {%- if adapter.get_relation(target.get('database'), 'artifacts', 'runs') is none
        and adapter.get_relation(target.get('database'), 'marts', 'runs') is none -%}
        {{ log("reuse_baseline_layers: no run is published in this database yet; the gate will refuse the build", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {#- the links stand before any model reads them -#}
    {%- do allocator.run_and_commit(statements) -%}
    {{ return('') }}
{%- endmacro %}


{#- The gate's row (stg_run_config) as built by this invocation, as a
    mapping, or none when its gate did not build: what the hook knows of the
    run comes from the config owner, never from var(). -#}
{% macro built_gate(statuses) -%}
    {%- if statuses.get('model.' ~ project_name ~ '.stg_run_config') != 'success' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set table = run_query("select run_id, run_kind, config_hash, publish_run, unscaled_layers_from_run_id from " ~ target.schema ~ ".stg_run_config") -%}
    {%- if not table.rows -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set gate = {} -%}
    {%- for name in table.column_names -%}
        {%- do gate.update({name: table.rows[0][loop.index0]}) -%}
    {%- endfor -%}
    {{ return(gate) }}
{%- endmacro %}


{#- The models a run builds in this invocation (`gate`: its gate's row): all
    of them, but a scaled run reading its baseline's layers builds none of
    the `unscaled` models (the ones it publishes are linked views, the others
    only feed those), and a baseline has no two-pass comparison to build. -#}
{% macro run_models(gate) -%}
    {%- set reusing = gate is not none and gate['unscaled_layers_from_run_id'] is not none -%}
    {%- set run_kind = gate['run_kind'] if gate is not none else none -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.enabled
        and not (reusing and 'unscaled' in node.tags)
        and not (run_kind == 'baseline' and 'two_pass' in node.tags) -%}
        {%- do models.append(node) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}


{#- Each node's status in this invocation (unique_id -> status), and the
    nodes that did not pass as 'name (status)': what both publish hooks
    check before storing anything. -#}
{% macro result_statuses(results) -%}
    {%- set statuses = {} -%}
    {%- set failed = [] -%}
    {%- for result in results -%}
        {%- set status = result.status | string | lower -%}
        {%- do statuses.update({result.node.unique_id: status}) -%}
        {%- if status in ['error', 'fail', 'runtime error', 'skipped'] -%}
            {%- do failed.append(result.node.name ~ ' (' ~ status ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'statuses': statuses, 'failed': failed}) }}
{%- endmacro %}


{#- Why this invocation's run cannot be published, or none. -#}
{% macro unpublishable_reason(results, gate) -%}
    {%- set checked = allocator.result_statuses(results) -%}
    {%- set statuses = checked['statuses'] -%}
    {%- set failed = checked['failed'] -%}
    {%- if failed -%}
        {{ return('failed: ' ~ failed[:5] | join(', ') ~ (' and ' ~ (failed | length - 5) ~ ' more' if failed | length > 5 else '')) }}
    {%- endif -%}
    {#- a scaled run that reads its baseline's layers builds none of the
        `unscaled` models: the ones it publishes are linked views, the others
        only feed those -#}
    {%- set missing = [] -%}
    {%- for node in allocator.run_models(gate) if statuses.get(node.unique_id) != 'success' -%}
        {%- do missing.append(node.name) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ return('this invocation did not build ' ~ (missing | length) ~ ' model(s) of the run (' ~ (missing | sort)[:5] | join(', ') ~ (', ...' if missing | length > 5 else '') ~ '): build the whole project') }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- on-run-end: publish the run just built, all of it or nothing. -#}
{% macro publish_run(results) -%}
    {%- if not execute or not allocator.is_build_command() -%}
        {{ return('') }}
    {%- endif -%}
    {#- nothing built (a selection of tests or seeds only): no run to publish -#}
    {%- if results | selectattr('node.resource_type', 'equalto', 'model') | list | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {#- a tuning invocation builds a sweep, not a run (macros/publish_tuning.sql) -#}
    {%- if allocator.is_tuning() -%}
        {{ return(allocator.publish_tuning(results)) }}
    {%- endif -%}
    {%- set gate = allocator.built_gate(allocator.result_statuses(results)['statuses']) -%}
    {%- set reason = allocator.unpublishable_reason(results, gate) -%}
    {#- a dry run as the gate resolved it; a build that did not build the gate
        is never published, and reads the var as given only to word that -#}
    {%- set dry_run = (gate['publish_run'] == false) if gate is not none
        else (allocator.run_var('publish_run', true) | string | lower) == 'false' -%}
    {#- a failed node or test already fails the command: say what it left -#}
    {%- if reason and reason.startswith('failed') -%}
        {{ log("Run not published (" ~ reason ~ "): every stored run is as it was.", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- if dry_run -%}
        {{ log(("Built part of the run" if reason else "Built and tested") ~ "; not published (publish_run: false): every stored run is as it was.", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {#- an incomplete or untested build must fail too, or it would look stored -#}
    {%- if flags.WHICH != 'build' -%}
        {{ exceptions.raise_compiler_error("Run not published: dbt " ~ flags.WHICH ~ " builds without the data tests, and a run is published only built and tested as one unit. Use dbt build (or publish_run: false for a dry run); every stored run is as it was.") }}
    {%- endif -%}
    {%- if reason -%}
        {{ exceptions.raise_compiler_error("Run not published (" ~ reason ~ "): every stored run is as it was.") }}
    {%- endif -%}
    {%- set run_id = allocator.sql_literal(gate['run_id']) -%}
    {#- what this run consists of: built now, or linked from its baseline; a
        table the build schema holds from another build is never published -#}
    {%- set consists_of = allocator.run_models(gate) | map(attribute='name') | list
        + (allocator.baseline_layers() if gate['unscaled_layers_from_run_id'] is not none else []) -%}
    {%- set published = {} -%}
    {%- for name, schema in allocator.published_models().items() if name in consists_of -%}
        {%- do published.update({name: schema}) -%}
    {%- endfor -%}
    {%- set columns = {} -%}
    {%- for row in run_query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ~ " where table_schema in ('" ~ target.schema ~ "', 'artifacts', 'marts') order by ordinal_position"
    ).rows -%}
        {%- do columns.setdefault(row[0] ~ '.' ~ row[1], []).append([row[2], row[3]]) -%}
    {%- endfor -%}
    {#- a live update appends the rows from its cut on (macros/live_update.sql) -#}
    {%- set live = allocator.live_publish_cut() -%}
    {%- if live and live['nothing_new'] -%}
        {{ log("Live run " ~ config[0] ~ " is up to date (last session " ~ live['last_session'] ~ "): nothing to append; every stored run is as it was.", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = ['begin transaction', 'create schema if not exists artifacts', 'create schema if not exists marts'] -%}
    {%- for name, schema in published | dictsort -%}
        {%- set built = target.schema ~ '.' ~ name -%}
        {%- set stored = schema ~ '.' ~ name -%}
        {%- do statements.append('create table if not exists ' ~ stored ~ ' as select * from ' ~ built ~ ' where false') -%}
        {%- set stored_names = columns.get(stored, []) | map('first') | list -%}
        {%- if stored_names -%}
            {%- for column in columns.get(built, []) if column[0] not in stored_names -%}
                {%- do statements.append('alter table ' ~ stored ~ ' add column "' ~ column[0] ~ '" ' ~ column[1]) -%}
            {%- endfor -%}
        {%- endif -%}
        {#- the two_pass marts are keyed by scaled_run_id -#}
        {%- set key = 'run_id' if 'run_id' in (columns.get(built, []) | map('first') | list) else 'scaled_run_id' -%}
        {%- set rows = allocator.live_rows_from(columns.get(built, []) | map('first') | list, live) -%}
        {%- do statements.append('delete from ' ~ stored ~ ' where ' ~ key ~ ' = ' ~ run_id ~ rows) -%}
        {#- every row a build holds is the run's: the key is set, not trusted -#}
        {%- do statements.append('insert into ' ~ stored ~ ' by name select * replace (' ~ run_id ~ ' as ' ~ key ~ ') from ' ~ built ~ (' where true' ~ rows if rows else '')) -%}
    {%- endfor -%}
    {%- set tests_passed = results | selectattr('node.resource_type', 'equalto', 'test') | list | length -%}
    {%- do statements.append('update marts.runs set data_tests_passed = ' ~ tests_passed ~ ' where run_id = ' ~ run_id) -%}
    {%- do statements.extend(allocator.mark_stale_comparisons(run_id, 'marts.two_pass_comparison' in columns or 'two_pass_comparison' in published)) -%}
    {%- do statements.append('commit') -%}
    {%- do run_query(statements | join(';\n')) -%}
    {{ log("Published run " ~ gate['run_id'] ~ " into " ~ (published | length) ~ " tables (artifacts, marts) in one transaction.", info=true) }}
    {{ return('') }}
{%- endmacro %}


{#- A scaled run's comparison is stale once its baseline is published again
    with another configuration or other input data than it was compared
    with; the scaled run's rows are kept, marked, never rewritten. -#}
{% macro mark_stale_comparisons(run_id, has_comparisons) -%}
    {%- set baseline = "(select config_hash, input_fingerprint from marts.runs where run_id = " ~ run_id ~ ")" -%}
    {%- set stale = "in (select run_id from marts.runs where precomputed_source_kind = 'run' and precomputed_source = " ~ run_id
        ~ " and run_id <> " ~ run_id
        ~ " and (baseline_config_hash is distinct from (select config_hash from " ~ baseline ~ ")"
        ~ " or baseline_input_fingerprint is distinct from (select input_fingerprint from " ~ baseline ~ ")))" -%}
    {%- set statements = ["update marts.runs set comparison_status = 'stale' where run_id " ~ stale] -%}
    {%- if has_comparisons -%}
        {%- do statements.append("update marts.two_pass_comparison set comparison_status = 'stale' where scaled_run_id " ~ stale) -%}
    {%- endif -%}
    {{ return(statements) }}
{%- endmacro %}
