{#-
    A tuning (Stage 7) is published like a run: as one unit, in one
    transaction, only when every tuning model was built and every test
    passed in this invocation. Its marts (the tuning models with meta
    publish: marts) are keyed by tuning_id instead of run_id; rebuilding a
    tuning id replaces its rows, and a failure leaves every stored tuning and
    run as it was. The same hook serves both so that a tuning needs no
    second on-run-end machinery, and the run path is untouched: a tuning
    invocation never publishes a run.
-#}

{#- True when this invocation builds a tuning (var tuning_id given; the
    tuning models are enabled on the same test in dbt_project.yml). -#}
{% macro is_tuning() -%}
    {{ return(var.has_var('tuning_id')) }}
{%- endmacro %}


{% macro publish_tuning(results) -%}
    {%- set checked = allocator.result_statuses(results) -%}
    {%- set statuses = checked['statuses'] -%}
    {%- set failed = checked['failed'] -%}
    {#- the id as the tuning's config resolved it, else as given (never rendered) -#}
    {%- set tuning_id = allocator.run_var('tuning_id') | string -%}
    {%- if statuses.get('model.' ~ project_name ~ '.stg_tuning_config') == 'success' -%}
        {%- set tuning_id = run_query("select tuning_id from " ~ target.schema ~ ".stg_tuning_config").rows[0][0] -%}
    {%- endif -%}
    {%- if failed -%}
        {%- do allocator.free_tuning_scratch() -%}
        {{ log("Tuning " ~ tuning_id ~ " not published (failed: " ~ failed[:5] | join(', ') ~ "): every stored tuning is as it was; its scratch tables are dropped.", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- set models = [] -%}
    {%- set others = [] -%}
    {%- for result in results if result.node.resource_type == 'model' and 'tuning' not in result.node.tags -%}
        {%- do others.append(result.node.name) -%}
    {%- endfor -%}
    {%- if others -%}
        {{ exceptions.raise_compiler_error("Tuning " ~ tuning_id ~ " not published: this invocation also built " ~ (others | length) ~ " run model(s) (" ~ (others | sort)[:3] | join(', ') ~ ", ...). A tuning reads a stored baseline: dbt build --select tag:tuning. Nothing was stored.") }}
    {%- endif -%}
    {%- set missing = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.enabled and 'tuning' in node.tags -%}
        {%- if statuses.get(node.unique_id) != 'success' -%}
            {%- do missing.append(node.name) -%}
        {%- elif (node.config.meta or {}).get('publish') == 'marts' -%}
            {%- do models.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if (allocator.run_var('publish_run', true) | string | lower) == 'false' -%}
        {{ log("Built tuning " ~ tuning_id ~ "; not published (publish_run: false).", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- if missing or flags.WHICH != 'build' -%}
        {{ exceptions.raise_compiler_error("Tuning " ~ tuning_id ~ " not published: "
            ~ ("this invocation did not build " ~ (missing | sort)[:5] | join(', ') if missing else "dbt " ~ flags.WHICH ~ " runs no tests")
            ~ ". Use dbt build --select tag:tuning; every stored tuning is as it was.") }}
    {%- endif -%}
    {%- set key = allocator.sql_literal(tuning_id) -%}
    {%- set columns = {} -%}
    {%- for row in run_query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ~ " where table_schema in ('" ~ target.schema ~ "', 'marts') order by ordinal_position"
    ).rows -%}
        {%- do columns.setdefault(row[0] ~ '.' ~ row[1], []).append([row[2], row[3]]) -%}
    {%- endfor -%}
    {%- set statements = ['begin transaction', 'create schema if not exists marts'] -%}
    {%- for name in models | sort -%}
        {%- set built = target.schema ~ '.' ~ name -%}
        {%- set stored = 'marts.' ~ name -%}
        {%- do statements.append('create table if not exists ' ~ stored ~ ' as select * from ' ~ built ~ ' where false') -%}
        {%- set stored_names = columns.get(stored, []) | map('first') | list -%}
        {%- if stored_names -%}
            {%- for column in columns.get(built, []) if column[0] not in stored_names -%}
                {%- do statements.append('alter table ' ~ stored ~ ' add column "' ~ column[0] ~ '" ' ~ column[1]) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- do statements.append('delete from ' ~ stored ~ ' where tuning_id = ' ~ key) -%}
        {%- do statements.append('insert into ' ~ stored ~ ' by name select * replace (' ~ key ~ ' as tuning_id) from ' ~ built) -%}
    {%- endfor -%}
    {%- do statements.append('commit') -%}
    {%- do run_query(statements | join(';\n')) -%}
    {{ log("Published tuning " ~ tuning_id ~ " into " ~ (models | length) ~ " marts in one transaction.", info=true) }}
    {{ return('') }}
{%- endmacro %}


{#- A failed tuning's scratch space: the sweep's long tables in the build
    schema (a configuration's book per session: gigabytes for a large grid)
    are dropped and the database checkpointed, so the space is free for the
    next build and, where those blocks end the file, DuckDB truncates it. A
    killed tuning leaves them until the next tuning drops them first. -#}
{% macro free_tuning_scratch() -%}
    {%- do run_query(
        'drop table if exists ' ~ target.schema ~ '.tuning_sessions__chunks;\n'
        ~ 'drop table if exists ' ~ target.schema ~ '.tuning_sessions;\n'
        ~ 'checkpoint'
    ) -%}
{%- endmacro %}
