{#- One row per run: the regime -> target mapping and the smoothing of the
    risk scalar, its date range and size, and the run's configuration hash. -#}
{%- set parameters = {
    'ewma_seed': 'the first target of the run (a run that starts in stress starts de-risked)',
    'clip': 'applied to the output only; the EWMA recursion runs unclipped',
    'targets_seed': 'allocator_regime_scalars',
} -%}
{#- the layer's one input is the regime; it is missing when no date was classified -#}
{%- set features_present -%}
    case when layer_summary.row_count > 0 then '["regime"]' else '[]' end
{%- endset -%}
{%- set features_missing -%}
    case
        when layer_summary.row_count > 0 then '{}'
        else '{"regime":"no classified date: the state never completed its warm-up"}'
    end
{%- endset -%}

with targets as (

    select * from {{ ref('int_allocator_regime_targets') }}

),

target_map as (

    select {{ allocator.json_object_agg('regime', 'target_scalar', 'regime_level') }} as targets_json,
    from targets

),

{{ allocator.allocator_meta(
    layer=ref('allocator_risk_v1'),
    date_column='date',
    parameters=parameters,
    parameter_sql=[
        ('targets', 'cast(target_map.targets_json as json)'),
        ('calibration', 'run_config.regime_calibration'),
        ('ewma_alpha', 'run_config.risk_ewma_alpha'),
        ('scalar_floor', 'run_config.risk_scalar_floor'),
        ('scalar_cap', 'run_config.risk_scalar_cap'),
    ],
    features_present=features_present,
    features_missing=features_missing,
    joins=['target_map'],
) }}

select * from final
