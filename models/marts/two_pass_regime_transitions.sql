{#-
    The regime transition matrix of every paired scaled run: for each
    (from_regime, to_regime), how many times one session's regime was followed
    by the next session's. The diagonal counts sessions that stayed in their
    regime; off-diagonal cells (is_regime_change) are the transitions. All
    4 x 4 cells are listed, zeros included, so a BI pivot shows a full matrix.
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
    from pairs
    inner join regimes
        on pairs.scaled_run_id = regimes.run_id
    where regimes.regime is not null

),

steps as (

    select
        scaled_run_id,
        lag(regime) over ({{ allocator.two_pass_run_sequence() }}) as from_regime,
        regime as to_regime,
    from run_regimes

),

counted as (

    select
        scaled_run_id,
        from_regime,
        to_regime,
        cast(count(*) as {{ dbt.type_bigint() }}) as transitions,
    from steps
    -- the first session has no predecessor
    where from_regime is not null
    group by scaled_run_id, from_regime, to_regime

),

regime_levels as (

    select regime, regime_level from {{ ref('allocator_regime_scalars') }}

),

observed_levels as (

    select regime, regime_level from regime_levels
    union
    select distinct regimes.regime, regimes.regime_level
    from regimes
    inner join pairs
        on pairs.scaled_run_id = regimes.run_id
    where regimes.regime is not null

),

cells as (

    select
        pairs.scaled_run_id,
        from_levels.regime as from_regime,
        from_levels.regime_level as from_regime_level,
        to_levels.regime as to_regime,
        to_levels.regime_level as to_regime_level,
    from pairs
    cross join observed_levels as from_levels
    cross join observed_levels as to_levels

),

with_counts as (

    select
        cells.*,
        coalesce(counted.transitions, 0) as transitions,
    from cells
    left join counted
        on cells.scaled_run_id = counted.scaled_run_id
        and cells.from_regime = counted.from_regime
        and cells.to_regime = counted.to_regime

),

final as (

    select
        scaled_run_id,
        from_regime,
        from_regime_level,
        to_regime,
        to_regime_level,
        from_regime <> to_regime as is_regime_change,
        transitions,
        -- row-normalised: the empirical probability of moving to to_regime
        -- from from_regime on the next session (null for a regime never left from)
        cast(transitions as {{ dbt.type_float() }}) / nullif(sum(transitions) over (partition by scaled_run_id, from_regime), 0) as transition_probability,
    from with_counts

)

select * from final
