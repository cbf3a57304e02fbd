{{ config(materialized='table') }}
{#-
    The lagged risk scalars a precomputed-mode run applies, one row per
    rebalance date, loaded from an earlier run's allocator_risk_v1_applied
    rows (precomputed_source_kind 'run') or from a CSV in the seeds'
    allocator_risk_v1_applied.csv format ('file', see
    macros/precomputed_scalars.sql). Empty in modes off and compute.
    stg_run_config has already failed the build if the run or file does not
    exist; a malformed file fails here with the offending row named.
    A table, not a view: it is a snapshot of what the run loaded, and the
    stored artifact table it reads is rewritten later in the same build.
-#}
{%- set settings = allocator.run_settings() -%}
{%- set kind = settings['precomputed_source_kind'] -%}
{%- set stored = source('allocator_artifacts', 'allocator_risk_v1_applied') -%}
{%- if kind == 'file' %}
{{ allocator.assert_valid_scalar_file(settings['precomputed_source']) }}
{%- endif %}

with

{%- if kind == 'run' %}

source as (

    select * from {{ stored }}
    where run_id = '{{ settings["precomputed_source"] }}'

),

loaded as (

    select
        cast(rebalance_date as date) as rebalance_date,
        cast(risk_scalar_applied as {{ dbt.type_float() }}) as risk_scalar_applied,
    from source

),

{%- elif kind == 'file' %}

source as (

    select * from {{ allocator.read_long_file(settings['precomputed_source']) }}

),

loaded as (

    select
        {{ allocator.parse_date_text('cast(' ~ allocator.scalar_file_date_column(settings['precomputed_source']) ~ ' as ' ~ dbt.type_string() ~ ')') }} as rebalance_date,
        {{ dbt.safe_cast('risk_scalar_applied', dbt.type_float()) }} as risk_scalar_applied,
    from source

),

{%- else %}

loaded as (

    -- modes off and compute load nothing
    select
        cast(null as date) as rebalance_date,
        cast(null as {{ dbt.type_float() }}) as risk_scalar_applied,
    where false

),

{%- endif %}

final as (

    select
        rebalance_date,
        risk_scalar_applied,
        {{ "'" ~ kind ~ "'" if kind else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as source_kind,
        {{ "'" ~ settings['precomputed_source'] ~ "'" if settings['precomputed_source'] else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as source,
    from loaded

)

select * from final
