{#-
    Every stored two-pass pair: a scaled run that applied the precomputed
    scalars of a baseline run stored in this database, next to that baseline.
    Recomputed over all runs each build, so a rebuilt baseline or scaled run
    is always paired with its current rows. Runs fed from a scalar file
    (precomputed_source_kind = 'file') have no baseline here and are left out.
-#}
with runs as (

    select * from {{ ref('runs') }}

),

scaled_runs as (

    select * from runs
    where allocator_mode = 'precomputed'
        and precomputed_source_kind = 'run'

),

final as (

    select
        scaled_runs.run_id as scaled_run_id,
        baseline_runs.run_id as baseline_run_id,
        scaled_runs.strategy_profile,
        scaled_runs.start_date,
        scaled_runs.end_date,
        baseline_runs.strategy_profile as baseline_strategy_profile,
        baseline_runs.start_date as baseline_start_date,
        baseline_runs.end_date as baseline_end_date,
        -- the comparison only isolates the allocator when both runs saw the
        -- same book: same profile, window and input data
        (
            scaled_runs.strategy_profile = baseline_runs.strategy_profile
            and scaled_runs.start_date = baseline_runs.start_date
            and scaled_runs.end_date = baseline_runs.end_date
            and scaled_runs.input_fingerprint = baseline_runs.input_fingerprint
        ) as is_like_for_like,
        -- a baseline rebuilt after the scaled run may no longer hold the
        -- scalars the scaled run applied
        baseline_runs.created_at > scaled_runs.created_at as is_baseline_newer,
        baseline_runs.created_at as baseline_created_at,
        scaled_runs.created_at as scaled_created_at,
    from scaled_runs
    inner join runs as baseline_runs
        on scaled_runs.precomputed_source = baseline_runs.run_id

)

select * from final
