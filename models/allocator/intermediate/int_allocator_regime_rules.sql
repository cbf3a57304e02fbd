{#-
    The regime rules the run classifies with, as the gate resolved them
    (stg_run_config.regime_rules_json): the rows of the rules seed that
    belong to the run's calibration (stg_run_config.regime_calibration,
    validated against the seeds), or a governor config's own rules (var
    governor_config, e.g. the configuration `allocator tune` chose). The
    seed keeps every named calibration, so the seeds' original rules stay
    available beside the default; a rule keeps its seed row's rationale.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

rules as (

    select * from {{ ref('allocator_regime_rules') }}

),

resolved as (

    -- JSON numbers keep every digit of the gate's doubles
    select unnest(from_json(run_config.regime_rules_json, '["JSON"]')) as rule,
    from run_config

),

parsed as (

    select
        rule ->> 0 as feature,
        rule ->> 1 as level,
        rule ->> 2 as direction,
        cast(rule -> 3 as double) as enter_threshold,
        cast(rule -> 4 as double) as exit_threshold,
    from resolved

),

final as (

    select
        run_config.regime_calibration as calibration,
        parsed.feature,
        parsed.level,
        parsed.direction,
        parsed.enter_threshold,
        parsed.exit_threshold,
        coalesce(rules.rationale, 'from the run''s governor config') as rationale,
    from parsed
    cross join run_config
    left join rules
        on rules.calibration = run_config.regime_calibration
        and rules.feature = parsed.feature
        and rules.level = parsed.level
        and rules.direction = parsed.direction

)

select * from final
