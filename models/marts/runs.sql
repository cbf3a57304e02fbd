{{ config(materialized='incremental') }}
{#-
    The run registry: one row per run_id, written last in the DAG so a run is
    registered only when all of its artifacts were built. Rebuilding a run_id
    replaces its row.
-#}
{%- set settings = allocator.run_settings() -%}

-- depends_on: {{ ref('stg_portfolio__weights') }}
-- depends_on: {{ ref('stg_portfolio__returns') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

metrics as (

    select * from {{ allocator.current_run(ref('run_metrics')) }}

),

prices as (

    select * from {{ ref('stg_market__prices') }}

),

{%- if settings['portfolio_source'] == 'weights_file' %}

portfolio_input as (

    select {{ allocator.fingerprint_rows(['date', 'symbol', 'sleeve', 'weight']) }} as fingerprint,
    from {{ ref('stg_portfolio__weights') }}

),
{%- elif settings['portfolio_source'] == 'returns_file' %}

portfolio_input as (

    select {{ allocator.fingerprint_rows(['date', 'portfolio_return']) }} as fingerprint,
    from {{ ref('stg_portfolio__returns') }}

),
{%- else %}

portfolio_input as (

    select cast(null as {{ dbt.type_string() }}) as fingerprint

),
{%- endif %}

price_input as (

    select
        {{ allocator.fingerprint_rows(['date', 'symbol', 'close']) }} as fingerprint,
        count(distinct symbol) as symbols,
        min(date) as first_price_date,
        max(date) as last_price_date,
    from prices

),

final as (

    select
        run_config.run_id,
        run_config.strategy_profile,
        run_config.start_date,
        run_config.end_date,
        run_config.portfolio_source,
        run_config.allocator_enabled,
        run_config.allocator_mode,
        run_config.precomputed_source,
        run_config.precomputed_source_kind,
        run_config.unscaled_layers_from_run_id,
        run_config.config_json,
        run_config.config_hash,
        md5(price_input.fingerprint || '|' || coalesce(portfolio_input.fingerprint, '')) as input_fingerprint,
        price_input.symbols as universe_symbols,
        price_input.first_price_date,
        price_input.last_price_date,
        metrics.return_days,
        run_config.dbt_invocation_id,
        run_config.created_at,
    from run_config
    cross join price_input
    cross join portfolio_input
    left join metrics
        on run_config.run_id = metrics.run_id

)

select * from final
