{#-
    The two-pass pair of the run being built: a scaled run that applied the
    scalars of a published baseline, next to that baseline (no row for a
    baseline, or for scalars from a file). The comparison reads the baseline's
    book as this run's unscaled book, which is the baseline's exactly when
    both were built from the same configuration and data: is_like_for_like.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

fingerprints as (

    select * from {{ ref('stg_run__input_fingerprints') }}

),

baseline as (

    select
        run_config.*,
        json_extract_string(run_config.baseline_config_json, '$.strategy_profile') as baseline_strategy_profile,
        cast(json_extract_string(run_config.baseline_config_json, '$.start') as date) as baseline_start_date,
        cast(json_extract_string(run_config.baseline_config_json, '$.end') as date) as baseline_end_date,
    from run_config
    where run_config.precomputed_source_kind = 'run'

),

final as (

    select
        baseline.run_id,
        baseline.run_id as scaled_run_id,
        baseline.precomputed_source as baseline_run_id,
        baseline.strategy_profile,
        baseline.start_date,
        baseline.end_date,
        baseline.baseline_strategy_profile,
        baseline.baseline_start_date,
        baseline.baseline_end_date,
        -- the comparison only isolates the allocator when both runs saw the
        -- same book: same profile, window and input data
        (
            baseline.strategy_profile = baseline.baseline_strategy_profile
            and baseline.start_date = baseline.baseline_start_date
            and baseline.end_date = baseline.baseline_end_date
            and fingerprints.input_fingerprint = baseline.baseline_input_fingerprint
        ) as is_like_for_like,
    from baseline
    cross join fingerprints

)

select * from final
