{#-
    The gate: one row, the resolved and validated configuration of the run
    being built (python/allocator/run_config.py owns the rules). Every other
    model of the run depends on it, so a bad var stops the build first, with
    a message that names the var and what would be right. Models read their
    settings from this row (lookbacks, costs, mode), never from a query at
    compile time.
-#}
with resolved as (

    select * from {{ ref('stg_run__resolved') }}

),

profiles as (

    select * from {{ ref('strategy_profiles') }}

),

checked as (

    -- error() stops the build with the resolver's message as it is
    select
        *,
        case when problem is not null then error(problem) end as failed,
    from resolved

),

final as (

    select
        cast(checked.run_id as {{ dbt.type_string() }}) as run_id,
        cast(checked.run_kind as {{ dbt.type_string() }}) as run_kind,
        profiles.strategy_profile,
        profiles.rebalance_frequency,
        cast(profiles.transaction_cost_bps as {{ dbt.type_float() }}) as transaction_cost_bps,
        cast(profiles.leverage_cap as {{ dbt.type_float() }}) as leverage_cap,
        cast(profiles.trend_risk_budget as {{ dbt.type_float() }}) as trend_risk_budget,
        cast(profiles.csmom_risk_budget as {{ dbt.type_float() }}) as csmom_risk_budget,
        cast(profiles.core_risk_budget as {{ dbt.type_float() }}) as core_risk_budget,
        cast(profiles.trend_vol_target as {{ dbt.type_float() }}) as trend_vol_target,
        cast(profiles.csmom_vol_target as {{ dbt.type_float() }}) as csmom_vol_target,
        cast(profiles.core_vol_target as {{ dbt.type_float() }}) as core_vol_target,
        cast(profiles.trend_lookback_days as integer) as trend_lookback_days,
        cast(profiles.csmom_lookback_days as integer) as csmom_lookback_days,
        cast(profiles.csmom_skip_days as integer) as csmom_skip_days,
        cast(profiles.csmom_bucket_share as {{ dbt.type_float() }}) as csmom_bucket_share,
        cast(profiles.asset_vol_lookback_days as integer) as asset_vol_lookback_days,
        cast(profiles.sleeve_vol_lookback_days as integer) as sleeve_vol_lookback_days,
        cast(checked.start_date as date) as start_date,
        cast(checked.end_date as date) as end_date,
        cast(checked.portfolio_source as {{ dbt.type_string() }}) as portfolio_source,
        cast(checked.allocator_enabled as boolean) as allocator_enabled,
        cast(checked.allocator_mode as {{ dbt.type_string() }}) as allocator_mode,
        cast(checked.cadence as {{ dbt.type_string() }}) as cadence,
        cast(checked.regime_calibration as {{ dbt.type_string() }}) as regime_calibration,
        cast(checked.regime_rules_json as {{ dbt.type_string() }}) as regime_rules_json,
        cast(checked.regime_targets_json as {{ dbt.type_string() }}) as regime_targets_json,
        cast(checked.precomputed_source as {{ dbt.type_string() }}) as precomputed_source,
        cast(checked.precomputed_source_kind as {{ dbt.type_string() }}) as precomputed_source_kind,
        cast(checked.apply_missing_scalar_as as {{ dbt.type_float() }}) as apply_missing_scalar_as,
        cast(checked.unscaled_layers_from_run_id as {{ dbt.type_string() }}) as unscaled_layers_from_run_id,
        cast(checked.replaces_run_id as {{ dbt.type_string() }}) as replaces_run_id,
        cast(checked.stale_scaled_run_ids as {{ dbt.type_string() }}) as stale_scaled_run_ids,
        cast(checked.correlation_exact_max_symbols as integer) as correlation_exact_max_symbols,
        cast(checked.regime_min_days as integer) as regime_min_days,
        cast(checked.risk_ewma_alpha as {{ dbt.type_float() }}) as risk_ewma_alpha,
        cast(checked.risk_scalar_floor as {{ dbt.type_float() }}) as risk_scalar_floor,
        cast(checked.risk_scalar_cap as {{ dbt.type_float() }}) as risk_scalar_cap,
        cast(checked.materially_scaled_below as {{ dbt.type_float() }}) as materially_scaled_below,
        cast(checked.config_json as {{ dbt.type_string() }}) as config_json,
        cast(checked.config_hash as {{ dbt.type_string() }}) as config_hash,
        -- the registry row of the baseline a scaled run applies, as published
        cast(checked.baseline_config_json as {{ dbt.type_string() }}) as baseline_config_json,
        cast(checked.baseline_config_hash as {{ dbt.type_string() }}) as baseline_config_hash,
        cast(checked.baseline_input_fingerprint as {{ dbt.type_string() }}) as baseline_input_fingerprint,
        '{{ invocation_id }}' as dbt_invocation_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as created_at,
    from checked
    left join profiles
        on cast(checked.strategy_profile as {{ dbt.type_string() }}) = profiles.strategy_profile
    where checked.failed is null

)

select * from final
