{#-
    One row: the resolved, validated configuration of the run being built.
    Every run-keyed model depends on this model, so a bad var (unknown
    profile, end before start, bad mode, missing precomputed run or file)
    stops the build before any stored run is touched.

    It also runs after every input file is typed and validated (the input
    models and their data tests), so a bad file, even one only a report reads
    like the benchmark, fails the build before any run-keyed table is written.
-#}
{%- set run_id = allocator.run_id() -%}
{%- set allocator_v1 = allocator.allocator_v1_config() -%}
{%- set window = allocator.run_window() -%}
{%- set strategy_profile = var('strategy_profile') | string -%}
{%- set weights_path = var('weights_path') or '' -%}
{%- set portfolio_returns_path = var('portfolio_returns_path') or '' -%}
{%- set reuse_baseline_layers = var('reuse_baseline_layers', false) -%}
{%- set artifacts = source('allocator_artifacts', 'allocator_risk_v1_applied') -%}
{#- refs outside `if execute`, so dbt records the dependencies when it parses -#}
{%- set regime_rules_seed = ref('allocator_regime_rules') -%}
{%- set regime_scalars_seed = ref('allocator_regime_scalars') -%}
{%- set profile_row = {} -%}
{%- set regime_calibration = {'rules': [], 'target_scalars': {}} -%}
{%- set precomputed = {'source_kind': none, 'source': none} -%}

{%- if weights_path and portfolio_returns_path -%}
    {{ exceptions.raise_compiler_error("set weights_path or portfolio_returns_path, not both") }}
{%- endif -%}
{%- if reuse_baseline_layers not in [true, false] -%}
    {{ exceptions.raise_compiler_error("var reuse_baseline_layers must be true or false; got " ~ reuse_baseline_layers) }}
{%- endif -%}
{%- if reuse_baseline_layers and not (allocator_v1['mode'] == 'precomputed' and allocator_v1['precomputed_run_id']) -%}
    {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers is for a scaled run (allocator_v1.mode precomputed with a precomputed_run_id); this run has mode " ~ allocator_v1['mode'] ~ (" and no precomputed_run_id" if allocator_v1['mode'] == 'precomputed' else '')) }}
{%- endif -%}

{%- if execute -%}
    {%- set profiles = run_query("select * from " ~ ref('strategy_profiles') ~ " order by strategy_profile") -%}
    {%- set known_profiles = profiles.columns['strategy_profile'].values() | list -%}
    {%- if strategy_profile not in known_profiles -%}
        {{ exceptions.raise_compiler_error("strategy_profile '" ~ strategy_profile ~ "' is not defined in seeds/strategy_profiles.csv; known profiles: " ~ known_profiles | join(', ')) }}
    {%- endif -%}
    {%- for row in profiles.rows if row['strategy_profile'] == strategy_profile -%}
        {%- for column in profiles.column_names -%}
            {%- do profile_row.update({column: row[column] | float if row[column] is number else row[column] | string}) -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- the regime seeds decide the regime and risk layers: they are part of
        the configuration a baseline is compared on (rationale text aside) -#}
    {%- for row in run_query("select feature, level, direction, enter_threshold, exit_threshold from " ~ regime_rules_seed ~ " order by feature, level, direction").rows -%}
        {%- do regime_calibration['rules'].append([row[0] | string, row[1] | string, row[2] | string, row[3] | float, row[4] | float]) -%}
    {%- endfor -%}
    {%- for row in run_query("select regime, target_scalar from " ~ regime_scalars_seed ~ " order by regime_level").rows -%}
        {%- do regime_calibration['target_scalars'].update({row[0] | string: row[1] | float}) -%}
    {%- endfor -%}

    {%- if allocator_v1['mode'] == 'precomputed' -%}
        {%- set source_run = allocator_v1['precomputed_run_id'] -%}
        {%- set filename = allocator_v1['precomputed_scalar_filename'] | string -%}
        {%- if source_run -%}
            {%- if source_run | string == run_id -%}
                {{ exceptions.raise_compiler_error("allocator_v1.precomputed_run_id '" ~ source_run ~ "' is the run being built: name the baseline run whose scalars to apply") }}
            {%- endif -%}
            {%- set stored = adapter.get_relation(artifacts.database, artifacts.schema, artifacts.identifier) -%}
            {%- set known_runs = [] -%}
            {%- if stored -%}
                {%- set known_runs = run_query("select distinct run_id from " ~ stored ~ " order by run_id").columns[0].values() | list -%}
            {%- endif -%}
            {%- set run_dir_file = 'reports/runs/' ~ source_run ~ '/' ~ filename -%}
            {%- if source_run | string in known_runs -%}
                {%- do precomputed.update({'source_kind': 'run', 'source': source_run | string}) -%}
            {%- elif allocator.file_exists(run_dir_file) -%}
                {{ allocator.assert_valid_scalar_file(run_dir_file) }}
                {%- do precomputed.update({'source_kind': 'file', 'source': run_dir_file}) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error("allocator_v1.precomputed_run_id '" ~ source_run ~ "' has no stored scalars: no such run in " ~ artifacts.identifier ~ " and no file " ~ run_dir_file ~ "; stored runs: " ~ (known_runs | join(', ') or 'none')) }}
            {%- endif -%}
        {%- elif allocator.file_exists(filename) -%}
            {#- a malformed file fails here, before any run-keyed table is written -#}
            {{ allocator.assert_valid_scalar_file(filename) }}
            {%- do precomputed.update({'source_kind': 'file', 'source': filename}) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("allocator_v1.mode precomputed needs precomputed_run_id (a stored baseline run) or precomputed_scalar_filename pointing at an existing CSV; file '" ~ filename ~ "' does not exist") }}
        {%- endif -%}
    {%- endif -%}
{%- endif -%}

{%- set portfolio_source = 'weights_file' if weights_path else ('returns_file' if portfolio_returns_path else 'strategy') -%}
{#- The checks below read what earlier builds stored, so they run only when
    this model is built; compile, show and docs generate write nothing. -#}
{%- set writing = execute and allocator.is_writing_command() -%}
{%- if writing -%}
    {{ allocator.assert_inputs_cover_the_run(run_id, window, portfolio_source) }}
{%- endif -%}
{%- set resolved = {
    'strategy_profile': strategy_profile,
    'profile': profile_row,
    'start': window['start'] | string,
    'end': window['end'] | string,
    'allocator_v1': allocator_v1,
    'portfolio_source': portfolio_source,
    'inputs': {
        'prices_path': var('prices_path'),
        'benchmark_path': var('benchmark_path'),
        'weights_path': weights_path,
        'portfolio_returns_path': portfolio_returns_path,
    },
    'precomputed_source': precomputed,
    'regime_calibration': regime_calibration,
    'allocator_parameters': {
        'correlation_exact_max_symbols': var('correlation_exact_max_symbols'),
        'regime_min_days': var('allocator_regime_min_days'),
        'risk_ewma_alpha': var('allocator_risk_ewma_alpha'),
        'risk_scalar_floor': var('allocator_risk_scalar_floor'),
        'risk_scalar_cap': var('allocator_risk_scalar_cap'),
    },
} -%}
{%- set config_json = tojson(resolved, sort_keys=true) -%}
{%- set unscaled_layers_from = none -%}
{%- if reuse_baseline_layers -%}
    {%- set unscaled_layers_from = allocator_v1['precomputed_run_id'] | string -%}
    {%- if writing -%}
        {%- if precomputed['source_kind'] != 'run' -%}
            {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': reuse_baseline_layers needs baseline '" ~ unscaled_layers_from ~ "' stored in this database; its scalars come from the file " ~ precomputed['source']) }}
        {%- endif -%}
        {{ allocator.assert_reusable_baseline(run_id, unscaled_layers_from, config_json, this) }}
    {%- endif -%}
{%- endif -%}
{#- dbt retry reruns what failed, after parents that succeeded in the same
    failed invocation: nothing it leaves out is stale -#}
{%- if writing and flags.WHICH != 'retry' -%}
    {{ allocator.assert_selection_builds_the_run(run_id, reuse_baseline_layers, allocator_v1['mode'] == 'precomputed') }}
{%- endif -%}

-- depends_on: {{ ref('stg_market__prices') }}
-- depends_on: {{ ref('stg_market__sessions') }}
-- depends_on: {{ ref('stg_market__returns') }}
-- depends_on: {{ ref('stg_market__benchmark_returns') }}
-- depends_on: {{ ref('stg_portfolio__weights') }}
-- depends_on: {{ ref('stg_portfolio__returns') }}

with profiles as (

    select * from {{ ref('strategy_profiles') }}

),

final as (

    select
        '{{ run_id }}' as run_id,
        profiles.strategy_profile,
        profiles.rebalance_frequency,
        cast(profiles.transaction_cost_bps as {{ dbt.type_float() }}) as transaction_cost_bps,
        cast(profiles.leverage_cap as {{ dbt.type_float() }}) as leverage_cap,
        cast(profiles.trend_risk_budget as {{ dbt.type_float() }}) as trend_risk_budget,
        cast(profiles.csmom_risk_budget as {{ dbt.type_float() }}) as csmom_risk_budget,
        cast(profiles.core_risk_budget as {{ dbt.type_float() }}) as core_risk_budget,
        cast(profiles.trend_vol_target as {{ dbt.type_float() }}) as trend_vol_target,
        cast(profiles.csmom_vol_target as {{ dbt.type_float() }}) as csmom_vol_target,
        cast(profiles.core_vol_target as {{ dbt.type_float() }}) as core_vol_target,
        cast(profiles.trend_lookback_days as integer) as trend_lookback_days,
        cast(profiles.csmom_lookback_days as integer) as csmom_lookback_days,
        cast(profiles.csmom_skip_days as integer) as csmom_skip_days,
        cast(profiles.csmom_bucket_share as {{ dbt.type_float() }}) as csmom_bucket_share,
        cast(profiles.asset_vol_lookback_days as integer) as asset_vol_lookback_days,
        cast(profiles.sleeve_vol_lookback_days as integer) as sleeve_vol_lookback_days,
        cast('{{ window["start"] }}' as date) as start_date,
        cast('{{ window["end"] }}' as date) as end_date,
        '{{ portfolio_source }}' as portfolio_source,
        {{ 'true' if allocator_v1['enabled'] else 'false' }} as allocator_enabled,
        '{{ allocator_v1["mode"] }}' as allocator_mode,
        {{ "'" ~ precomputed['source'] ~ "'" if precomputed['source'] else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as precomputed_source,
        {{ "'" ~ precomputed['source_kind'] ~ "'" if precomputed['source_kind'] else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as precomputed_source_kind,
        cast({{ allocator_v1['apply_missing_scalar_as'] }} as {{ dbt.type_float() }}) as apply_missing_scalar_as,
        {{ "'" ~ unscaled_layers_from ~ "'" if unscaled_layers_from else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as unscaled_layers_from_run_id,
        '{{ config_json | replace("'", "''") }}' as config_json,
        '{{ local_md5(config_json) }}' as config_hash,
        '{{ invocation_id }}' as dbt_invocation_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as created_at,
    from profiles
    where profiles.strategy_profile = '{{ strategy_profile | replace("'", "''") }}'

)

select * from final
