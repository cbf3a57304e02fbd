{#- One row per run: the sleeve calibration and each sleeve's regime ->
    target map of allocator_risk_v1_sleeve_scalars, the smoothing it shares
    with the book scalar, its date range and size, and the run's
    configuration hash. A run with sleeve_scalars off has an empty layer. -#}
{%- set parameters = {
    'ewma_seed': 'the first target of each sleeve (as the book scalar)',
    'clip': 'applied to the output only; the EWMA recursion runs unclipped',
    'targets_seed': 'allocator_sleeve_scalars',
} -%}
{%- set features_present -%}
    case when layer_summary.row_count > 0 then '["regime"]' else '[]' end
{%- endset -%}
{%- set features_missing -%}
    case
        when run_config.sleeve_scalars = 'off' then '{"sleeve_scalars":"off: one scalar for the whole book"}'
        when layer_summary.row_count > 0 then '{}'
        else '{"regime":"no classified date: the state never completed its warm-up"}'
    end
{%- endset -%}

with targets as (

    select * from {{ ref('int_exposure_sleeve_targets') }}

),

sleeve_maps as (

    select
        sleeve,
        {{ allocator.json_object_agg('regime', 'target_scalar', 'regime') }} as targets_json,
    from targets
    group by sleeve

),

target_map as (

    select {{ allocator.json_object_agg('sleeve', 'cast(targets_json as json)', 'sleeve') }} as sleeve_targets_json,
    from sleeve_maps

),

{{ allocator.allocator_meta(
    layer=ref('allocator_risk_v1_sleeve_scalars'),
    date_column='date',
    parameters=parameters,
    parameter_sql=[
        ('sleeve_scalars', 'run_config.sleeve_scalars'),
        ('sleeve_targets', 'cast(target_map.sleeve_targets_json as json)'),
        ('ewma_alpha', 'run_config.risk_ewma_alpha'),
        ('scalar_floor', 'run_config.risk_scalar_floor'),
        ('scalar_cap', 'run_config.risk_scalar_cap'),
    ],
    features_present=features_present,
    features_missing=features_missing,
    summary_columns=[('sleeve_count', 'count(distinct sleeve)')],
    joins=['target_map'],
) }}

select * from final
