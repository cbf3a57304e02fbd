{#- One row per run: the regime rules and settings the run classified with,
    which rule inputs it had (a rule on a missing input is inert), its date
    range and size, and the run's configuration hash. -#}
{%- set derived = allocator.allocator_regime_derived_inputs() -%}
{%- set parameters = {
    'levels': ['NORMAL', 'ELEVATED', 'STRESS', 'CRISIS'],
    'escalation': 'immediate, to the highest level whose enter condition holds',
    'de_escalation': 'one level at a time, after at least min_days in the current level, when no exit condition of the level holds',
    'not_ready_dates': 'no row: the series starts at the first ready state date',
    'rules_seed': 'allocator_regime_rules',
    'derived_inputs': {
        'port_rvol_long_run': 'expanding mean of port_rvol_60d over the ready dates up to the date',
        'rvol_ratio_long_run': 'port_rvol_20d / port_rvol_long_run',
        'dd_vol_units': 'dd_level / port_rvol_long_run',
        'dd_slope_vol_units': 'dd_slope_10d / port_rvol_long_run',
        'dd_252d_vol_units': 'dd_level_252d / port_rvol_long_run',
        'dd_504d_vol_units': 'dd_level_504d / port_rvol_long_run',
    },
} -%}

with rules as (

    select * from {{ ref('int_allocator_regime_rules') }}

),

availability as (

    select * from {{ ref('int_allocator_feature_availability') }}

),

derived_inputs as (

    select * from (
        values
        {%- for input, base in derived.items() %}
            ('{{ input }}', '{{ base }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as derived_list (feature, base_feature)

),

rule_inputs as (

    select distinct
        rules.feature,
        coalesce(derived_inputs.base_feature, rules.feature) as base_feature,
    from rules
    left join derived_inputs
        on rules.feature = derived_inputs.feature

),

rule_input_availability as (

    select
        rule_inputs.feature,
        coalesce(availability.is_present, false) as is_present,
        case
            when availability.feature is null then 'not a state feature'
            when rule_inputs.feature <> rule_inputs.base_feature
                then 'derived from ' || rule_inputs.base_feature || ', which is missing: ' || availability.missing_reason
            else availability.missing_reason
        end as missing_reason,
    from rule_inputs
    left join availability
        on rule_inputs.base_feature = availability.feature

),

feature_lists as (

    select
        {{ allocator.json_array_agg('feature', 'feature', where='is_present') }} as features_present,
        {{ allocator.json_object_agg('feature', 'missing_reason', 'feature', where='not is_present') }} as features_missing,
    from rule_input_availability

),

rule_list as (

    select
        {{ allocator.json_array_agg(
            allocator.json_object_sql([
                ('feature', 'feature'), ('level', 'level'), ('direction', 'direction'),
                ('enter_threshold', 'enter_threshold'), ('exit_threshold', 'exit_threshold'),
            ]),
            'feature, level'
        ) }} as rules_json,
    from rules

),

{{ allocator.allocator_meta(
    layer=ref('allocator_regime_v1'),
    date_column='date',
    parameters=parameters,
    parameter_sql=[
        ('rules', 'cast(rule_list.rules_json as json)'),
        ('calibration', 'run_config.regime_calibration'),
        ('min_days', 'run_config.regime_min_days'),
    ],
    features_present='feature_lists.features_present',
    features_missing='feature_lists.features_missing',
    joins=['feature_lists', 'rule_list'],
) }}

select * from final
