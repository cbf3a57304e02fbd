{#-
    Time in each regime for every paired scaled run: days, share of days and
    the longest consecutive run (gaps and islands). The series is the scaled
    run's allocator_regime_v1, which is measured on the unscaled book and so
    equals the baseline's when both share profile and window. Every regime
    of the allocator_regime_scalars seed is listed; one never visited has 0 days.
-#}
with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

regimes as (

    select * from {{ ref('allocator_regime_v1') }}

),

run_regimes as (

    select
        pairs.scaled_run_id,
        regimes.date,
        regimes.regime,
        regimes.regime_level,
    from pairs
    inner join regimes
        on pairs.scaled_run_id = regimes.run_id
    -- warm-up days carry no regime yet
    where regimes.regime is not null

),

islands as (

    -- consecutive days in one regime share this difference of row numbers
    select
        scaled_run_id,
        regime,
        regime_level,
        row_number() over ({{ allocator.two_pass_run_sequence() }})
            - row_number() over ({{ allocator.two_pass_run_sequence(partition_columns=['scaled_run_id', 'regime']) }}) as island,
    from run_regimes

),

spells as (

    select
        scaled_run_id,
        regime,
        island,
        count(*) as spell_days,
    from islands
    group by scaled_run_id, regime, island

),

per_regime as (

    select
        scaled_run_id,
        regime,
        cast(sum(spell_days) as {{ dbt.type_bigint() }}) as days,
        cast(max(spell_days) as {{ dbt.type_bigint() }}) as longest_run_days,
        cast(count(*) as {{ dbt.type_bigint() }}) as spells,
    from spells
    group by scaled_run_id, regime

),

run_days as (

    select
        scaled_run_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as total_days,
    from run_regimes
    group by scaled_run_id

),

regime_levels as (

    select regime, regime_level from {{ ref('allocator_regime_scalars') }}

),

observed_levels as (

    -- any regime name outside the known four still gets its row
    select regime, regime_level from regime_levels
    union
    select distinct regime, regime_level from run_regimes

),

final as (

    select
        run_days.scaled_run_id,
        observed_levels.regime,
        observed_levels.regime_level,
        coalesce(per_regime.days, 0) as days,
        cast(coalesce(per_regime.days, 0) as {{ dbt.type_float() }}) / run_days.total_days as pct,
        coalesce(per_regime.longest_run_days, 0) as longest_run_days,
        coalesce(per_regime.spells, 0) as spells,
        run_days.total_days,
    from run_days
    cross join observed_levels
    left join per_regime
        on run_days.scaled_run_id = per_regime.scaled_run_id
        and observed_levels.regime = per_regime.regime

)

select * from final
