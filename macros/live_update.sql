{#-
    Live runs (Stage 9): a run that is updated every trading day from its
    stored state instead of being rebuilt.

    `dbt build --vars '{run_id: prod, live: true, ...}'` builds a whole run
    and stores, beside its layers, what the next day needs: the closes it
    read (artifacts.live_closes, artifacts.live_sessions) and the state of
    its recursions, which are columns of their layers
    (allocator_regime_v1.regime_state, allocator_risk_v1.ewma_state).

    `dbt build --vars '{run_id: prod, live_update: true, prices_path: f}'`
    appends the sessions the file has after the run's last one. The same
    models run, on a bounded lookback of the stored closes plus the file's
    new sessions (stg_market__closes). The layers whose new rows depend on
    everything before them (the expanding features, the regime and EWMA
    recursions, the equity curves, the lags of the exposure layer) are dbt
    incremental models: this hook loads the run's stored rows into their
    tables, so is_incremental() is true and each computes only the rows from
    the cut (stg_live__update.live_cut) on. The publish then appends the new
    rows (macros/publish_run.sql) in one transaction.
-#}

{% macro is_live_update() -%}
    {{ return((allocator.run_var('live_update', false) | string | lower) == 'true') }}
{%- endmacro %}


{#- A build that stores a live run: its start (var live) or an update. -#}
{% macro is_live_run() -%}
    {{ return(allocator.is_live_update() or (allocator.run_var('live', false) | string | lower) == 'true') }}
{%- endmacro %}


{#- The run's incremental models: the layers an update continues. -#}
{% macro live_incremental_models() -%}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.enabled and node.config.materialized == 'incremental' -%}
        {%- do names.append(node.alias or node.name) -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}


{#- The date a live update computes from: the day after the run's last
    stored session, or restate_from. None when it cannot be known (not a
    live run: the gate stg_live__update says so). -#}
{% macro live_cut_date(run_id) -%}
    {%- if adapter.get_relation(target.get('database'), 'marts', 'live_runs') is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select cast(last_session as varchar) from marts.live_runs where run_id = " ~ allocator.sql_literal(run_id)
    ).rows -%}
    {%- if not rows -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set restate = allocator.run_var('restate_from', none) -%}
    {%- if restate -%}
        {{ return(modules.datetime.date.fromisoformat(restate | string)) }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat(rows[0][0]) + modules.datetime.timedelta(days=1)) }}
{%- endmacro %}


{#- on-run-start. A build of a whole run starts every incremental model from
    nothing (a table left in `build` by another build is dropped), and drops
    the other tables it rebuilds (below). A live
    update loads each one's table with the live run's stored rows before the
    cut, so dbt takes them as the model's existing rows (is_incremental). -#}
{% macro prepare_live_update() -%}
    {%- if not execute or not allocator.is_build_command() or allocator.is_tuning() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = ['create schema if not exists ' ~ target.schema] -%}
    {%- set existing = allocator.schema_relations(target.schema) -%}
    {%- set run_id = allocator.run_var('run_id', '') | string -%}
    {%- set cut = allocator.live_cut_date(run_id) if allocator.is_live_update() else none -%}
    {%- for name in allocator.live_incremental_models() -%}
        {%- set relation = api.Relation.create(database=target.get('database'), schema=target.schema, identifier=name, type='table') -%}
        {#- outside an update, a view is a baseline's layer linked for a
            scaled run (link_baseline_layers, which runs first): kept -#}
        {%- if name in existing and (cut is not none or existing[name] == 'table') -%}
            {%- do statements.append('drop ' ~ existing[name] ~ ' ' ~ target.schema ~ '.' ~ name) -%}
            {%- do adapter.cache_dropped(relation) -%}
        {%- endif -%}
        {%- set stored = adapter.get_relation(target.get('database'), 'artifacts', name) or adapter.get_relation(target.get('database'), 'marts', name) -%}
        {%- if cut is not none and stored is not none -%}
            {%- set key = 'date' if 'date' in (adapter.get_columns_in_relation(stored) | map(attribute='name') | list) else 'rebalance_date' -%}
            {%- do statements.append(
                'create table ' ~ target.schema ~ '.' ~ name ~ ' as select * from ' ~ stored
                ~ ' where run_id = ' ~ allocator.sql_literal(run_id)
                ~ ' and ' ~ key ~ ' < ' ~ allocator.sql_literal(cut | string) ~ '::date order by ' ~ key
            ) -%}
            {%- do adapter.cache_added(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- what a previous build left under the names of the other models this
        build rebuilds, dropped in one statement batch: dbt creates a model
        whose table is absent and renames it into place, but one that exists
        costs four statements more per node (index and constraint lookups,
        a rename aside and a drop), about a tenth of the demo two-pass. A
        view among them is an earlier scaled run's link to its baseline's
        layers (this build's own links are never selected, the link hook
        refuses that); DuckDB drops an object only as its own type. Nothing
        published lives in `build`: a build that fails after this leaves
        every stored run as it was. The gate's table stays until the gate
        rebuilds it: the links (link_baseline_layers) read it and DuckDB
        binds a view when it is created, so a reusing build after a refused
        one would fail on the missing table instead of the gate's message. -#}
    {%- set incremental = allocator.live_incremental_models() -%}
    {%- for unique_id in selected_resources if unique_id in graph.nodes -%}
        {%- set node = graph.nodes[unique_id] -%}
        {%- set name = node.alias or node.name -%}
        {%- if node.resource_type == 'model' and node.schema == target.schema
            and name not in incremental and name in existing and name != 'stg_run_config' -%}
            {%- do statements.append('drop ' ~ existing[name] ~ ' ' ~ target.schema ~ '.' ~ name) -%}
            {%- do adapter.cache_dropped(api.Relation.create(database=target.get('database'), schema=target.schema, identifier=name, type=existing[name])) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do allocator.run_and_commit(statements) -%}
    {{ return('') }}
{%- endmacro %}


{#- The closing filter of an incremental layer: in a live update only the
    rows from the cut on are new; a whole run keeps every row. -#}
{% macro live_new_rows(key) -%}
    where (select live_cut from {{ ref('stg_live__update') }}) is null
        or {{ key }} >= (select live_cut from {{ ref('stg_live__update') }})
{%- endmacro %}


{#- The rows of a per-session input that a live update's rolling windows
    read: from the lookback's first session on (stg_live__update); every row
    outside a live update. The market's returns start there anyway, so a
    window over earlier rows would only cross the history with the universe
    (sessions x symbols, or x pairs) to find nulls: the update's time and
    memory would grow with the run's history. -#}
{% macro live_lookback_rows(key) -%}
    where (select lookback_start from {{ ref('stg_live__update') }}) is null
        or {{ key }} >= (select lookback_start from {{ ref('stg_live__update') }})
{%- endmacro %}


{#- Sessions a live update reads beyond the longest signal lookback plus the
    sleeve vol window: two quarterly rebalance periods (the previous
    rebalance's weights and its vol window) and the state's 60-session
    windows. -#}
{% macro live_lookback_margin() -%}
    {{ return(186) }}
{%- endmacro %}


{#- In a live update, `union all` the live run's stored rows (before the cut)
    of a published layer, for the few per-run facts that span its whole
    history (which symbols it ever held, which sleeves it has); nothing
    otherwise. `columns`: the select list, in the order of the query it
    extends. -#}
{% macro live_stored_rows(model_name, columns) -%}
    {%- if execute and allocator.is_live_update() -%}
        {%- set stored = adapter.get_relation(target.get('database'), 'artifacts', model_name) -%}
        {%- set run_id = allocator.run_var('run_id', '') | string -%}
        {%- set cut = allocator.live_cut_date(run_id) -%}
        {%- if stored is not none and cut is not none -%}
            {%- set key = 'date' if 'date' in (adapter.get_columns_in_relation(stored) | map(attribute='name') | list) else 'rebalance_date' %}
    union all
    select {{ columns }} from {{ stored }}
    where run_id = {{ allocator.sql_literal(run_id) }} and {{ key }} < {{ allocator.sql_literal(cut | string) }}::date
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- For the publish: none outside a live update; otherwise the update's cut
    and whether it has anything to append (an update of a run that is up to
    date publishes nothing: re-running a day changes nothing). -#}
{% macro live_publish_cut() -%}
    {%- if not allocator.is_live_update() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = run_query("select cast(live_cut as varchar), new_sessions, cast(last_session as varchar) from " ~ target.schema ~ ".stg_live__update").rows[0] -%}
    {{ return({
        'cut': row[0],
        'nothing_new': row[1] == 0 and not allocator.run_var('restate_from', none),
        'last_session': row[2],
    }) }}
{%- endmacro %}


{#- The publish's row filter for one table: in a live update, a table of
    dated rows (date or rebalance_date) is replaced from the cut on; a table
    of one row per run (metrics, metas, the registry) is replaced whole. -#}
{% macro live_rows_from(column_names, live) -%}
    {%- if not live -%}
        {{ return('') }}
    {%- endif -%}
    {%- for key in ['date', 'rebalance_date'] if key in column_names -%}
        {{ return(' and ' ~ key ~ ' >= ' ~ allocator.sql_literal(live['cut']) ~ '::date') }}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
