{#- One row per run: the regime -> target mapping and the smoothing of the
    risk scalar, its date range and size, and the run's configuration hash. -#}
{%- set parameters = {
    'ewma_seed': 'the first target of the run (a run that starts in stress starts de-risked)',
    'clip': 'applied to the output only; the EWMA recursion runs unclipped',
    'targets_seed': 'allocator_regime_scalars',
} -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

risk as (

    select * from {{ ref('allocator_risk_v1') }}

),

targets as (

    select * from {{ ref('allocator_regime_scalars') }}

),

target_map as (

    select {{ allocator.json_object_agg('regime', 'target_scalar', 'regime_level') }} as targets_json,
    from targets

),

risk_summary as (

    select
        min(date) as first_date,
        max(date) as last_date,
        count(*) as row_count,
    from risk

),

final as (

    select
        run_config.run_id,
        '{{ allocator.allocator_v1_version() }}' as version,
        {{ allocator.json_merge_sql(
            allocator.json_literal(parameters),
            allocator.json_object_sql([
                ('targets', 'cast(target_map.targets_json as json)'),
                ('ewma_alpha', 'run_config.risk_ewma_alpha'),
                ('scalar_floor', 'run_config.risk_scalar_floor'),
                ('scalar_cap', 'run_config.risk_scalar_cap'),
            ])
        ) }} as parameters,
        case when risk_summary.row_count > 0 then '["regime"]' else '[]' end as features_present,
        case
            when risk_summary.row_count > 0 then '{}'
            else '{"regime":"no classified date: the state never completed its warm-up"}'
        end as features_missing,
        risk_summary.first_date,
        risk_summary.last_date,
        risk_summary.row_count,
        run_config.config_hash,
        run_config.created_at,
    from run_config
    cross join target_map
    cross join risk_summary

)

select * from final
