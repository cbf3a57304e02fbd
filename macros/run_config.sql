{#-
    The run's configuration, resolved from vars and validated before anything
    keyed by run_id is written. Every run-keyed model depends on
    stg_run_config, so a bad configuration fails the build up front.
-#}

{% macro run_id() -%}
    {%- set run_id = var('run_id') | string -%}
    {%- if not modules.re.match('^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', run_id) -%}
        {{ exceptions.raise_compiler_error("run_id '" ~ run_id ~ "' is not valid: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit") }}
    {%- endif -%}
    {{ return(run_id) }}
{%- endmacro %}


{#- The allocator_v1 var block, merged over its defaults and validated. -#}
{% macro allocator_v1_config() -%}
    {%- set config = {
        'enabled': false,
        'mode': 'off',
        'precomputed_run_id': none,
        'precomputed_scalar_filename': 'allocator_risk_v1_applied.csv',
        'apply_missing_scalar_as': 1.0,
    } -%}
    {%- set given = var('allocator_v1', {}) or {} -%}
    {%- if given is not mapping -%}
        {{ exceptions.raise_compiler_error("var allocator_v1 must be a mapping like {enabled: true, mode: precomputed, precomputed_run_id: base}; got " ~ given) }}
    {%- endif -%}
    {%- for key in given if key not in config -%}
        {{ exceptions.raise_compiler_error("allocator_v1." ~ key ~ " is not a known setting; known: " ~ config.keys() | join(', ')) }}
    {%- endfor -%}
    {%- do config.update(given) -%}
    {%- set mode = config['mode'] | string | lower -%}
    {%- if mode not in ['off', 'compute', 'precomputed'] -%}
        {{ exceptions.raise_compiler_error("allocator_v1.mode '" ~ config['mode'] ~ "' is not valid: use off, compute or precomputed") }}
    {%- endif -%}
    {%- if config['enabled'] and mode == 'off' -%}
        {{ exceptions.raise_compiler_error("allocator_v1.enabled is true but mode is off: set mode to compute or precomputed (or enabled: false)") }}
    {%- endif -%}
    {%- if not config['enabled'] and mode != 'off' -%}
        {{ exceptions.raise_compiler_error("allocator_v1.mode is " ~ mode ~ " but enabled is false: set enabled: true to apply scalars, or mode: off") }}
    {%- endif -%}
    {%- set missing_as = config['apply_missing_scalar_as'] -%}
    {%- if missing_as is not number or missing_as <= 0 or missing_as > 1 -%}
        {{ exceptions.raise_compiler_error("allocator_v1.apply_missing_scalar_as must be a number in (0, 1]; got " ~ missing_as) }}
    {%- endif -%}
    {%- do config.update({'mode': mode}) -%}
    {{ return(config) }}
{%- endmacro %}


{#- Start and end dates of the recorded window, validated. -#}
{% macro run_window() -%}
    {%- set window = {} -%}
    {%- for name in ['start', 'end'] -%}
        {%- set text = var(name) | string -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " '" ~ text ~ "' is not a date: use YYYY-MM-DD") }}
        {%- endif -%}
        {%- do window.update({name: modules.datetime.date.fromisoformat(text)}) -%}
    {%- endfor -%}
    {%- if window['end'] < window['start'] -%}
        {{ exceptions.raise_compiler_error("end " ~ window['end'] ~ " is before start " ~ window['start'] ~ ": the window must run forward") }}
    {%- endif -%}
    {{ return(window) }}
{%- endmacro %}


{#- Rows of a multi-run artifact table that belong to the current run. -#}
{% macro current_run(relation) -%}
    (select * from {{ relation }} where run_id = '{{ allocator.run_id() }}')
{%- endmacro %}


{#-
    The current run's row of stg_run_config as a dict, for values that must be
    literals in SQL (window frame sizes) or that switch code paths. While dbt
    parses (execute is false) it returns placeholders so models still parse.
-#}
{% macro run_settings() -%}
    {#- ref() before the parse-time return, so dbt records the dependency -#}
    {%- set run_config = ref('stg_run_config') -%}
    {%- if not execute -%}
        {{ return({
            'rebalance_frequency': 'monthly', 'portfolio_source': 'strategy',
            'allocator_mode': 'off', 'trend_lookback_days': 2, 'csmom_lookback_days': 2,
            'csmom_skip_days': 1, 'asset_vol_lookback_days': 2, 'sleeve_vol_lookback_days': 2,
            'precomputed_source_kind': none, 'precomputed_source': none,
            'transaction_cost_bps': 0,
        }) }}
    {%- endif -%}
    {%- set table = run_query("select * from " ~ run_config) -%}
    {%- set settings = {} -%}
    {%- for column in table.column_names -%}
        {%- do settings.update({column: table.columns[column].values()[0]}) -%}
    {%- endfor -%}
    {{ return(settings) }}
{%- endmacro %}


{#- The run's inputs must cover what it asks for, or it would be built on
    nothing and pass: the window starts within the book's data (prices, or
    the returns file of a returns-only book), and every symbol a weights file
    holds (weight other than 0) has prices. Called by stg_run_config, after
    the input models. -#}
{% macro assert_inputs_cover_the_run(run_id, window, portfolio_source) -%}
    {%- if portfolio_source == 'returns_file' -%}
        {%- set book = ref('stg_portfolio__returns') -%}
        {%- set described = "portfolio returns file '" ~ var('portfolio_returns_path') ~ "'" -%}
    {%- else -%}
        {%- set book = ref('stg_market__prices') -%}
        {%- set described = "prices file '" ~ var('prices_path') ~ "'" -%}
    {%- endif -%}
    {%- set span = run_query("select cast(min(date) as " ~ dbt.type_string() ~ "), cast(max(date) as " ~ dbt.type_string() ~ ") from " ~ book).rows[0] -%}
    {%- set start = window['start'] | string -%}
    {%- if span[0] is none or start < span[0] or start > span[1] -%}
        {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': the window starts " ~ start ~ ", outside the " ~ described ~ ", which covers " ~ (span[0] ~ " to " ~ span[1] if span[0] else "no dates") ~ ": give a start between the two") }}
    {%- endif -%}
    {%- if portfolio_source == 'weights_file' -%}
        {%- set orphans = run_query(
            "select distinct symbol from " ~ ref('stg_portfolio__weights')
            ~ " where weight <> 0 and symbol not in (select symbol from " ~ ref('stg_market__prices') ~ ") order by symbol"
        ).columns[0].values() | list -%}
        {%- if orphans -%}
            {{ exceptions.raise_compiler_error("run '" ~ run_id ~ "': weights file '" ~ var('weights_path') ~ "' holds symbol(s) with no prices in prices file '" ~ var('prices_path') ~ "': " ~ allocator.name_list(orphans) ~ ". Add their closes or drop them from the weights") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- True for the commands that build models (and so write run rows). -#}
{% macro is_writing_command() -%}
    {{ return(flags.WHICH in ['run', 'build', 'retry']) }}
{%- endmacro %}
