{#-
    How the allocator was used in every paired scaled run, one row per scaled
    run: scalar use at rebalances (the seeds' "Allocator Usage Statistics"),
    regime stickiness, and whether it de-risked inside the baseline's worst
    drawdown.
-#}
with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

scalars as (

    select * from {{ ref('allocator_scalars_at_rebalances') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns') }}

),

regime_distribution as (

    select * from {{ ref('two_pass_regime_distribution') }}

),

regime_transitions as (

    select * from {{ ref('two_pass_regime_transitions') }}

),

run_scalars as (

    select
        pairs.scaled_run_id,
        scalars.rebalance_date,
        scalars.risk_scalar_used,
        scalars.is_scaled,
    from pairs
    inner join scalars
        on pairs.scaled_run_id = scalars.run_id

),

scalar_usage as (

    select
        scaled_run_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as rebalances_total,
        cast(sum(case when is_scaled then 1 else 0 end) as {{ dbt.type_bigint() }}) as rebalances_scaled,
        avg(risk_scalar_used) as scalar_mean,
        min(risk_scalar_used) as scalar_min,
        max(risk_scalar_used) as scalar_max,
    from run_scalars
    group by scaled_run_id

),

regime_days as (

    select
        scaled_run_id,
        cast(sum(days) as {{ dbt.type_bigint() }}) as regime_days,
    from regime_distribution
    group by scaled_run_id

),

regime_changes as (

    select
        scaled_run_id,
        cast(sum(case when is_regime_change then transitions else 0 end) as {{ dbt.type_bigint() }}) as regime_transitions,
    from regime_transitions
    group by scaled_run_id

),

baseline_daily as (

    select
        pairs.scaled_run_id,
        portfolio_returns.date,
        -- the baseline's book is the scaled run's unscaled book
        portfolio_returns.drawdown_unscaled as drawdown,
    from pairs
    inner join portfolio_returns
        on pairs.scaled_run_id = portfolio_returns.run_id

),

{{ allocator.drawdown_episodes('baseline_daily', 'scaled_run_id') }},

baseline_starts as (

    select scaled_run_id, min(date) as first_date,
    from baseline_daily
    group by scaled_run_id

),

worst_episode as (

    -- the deepest drawdown episode (macros/drawdown_episodes.sql, shared with
    -- two_pass_drawdown_episodes): from the last high-water mark before the
    -- trough, or the run's first date when the book never rose above its
    -- starting wealth; a baseline that never drew down gets an empty
    -- episode on its first date
    select
        baseline_starts.scaled_run_id,
        coalesce(drawdown_episodes.peak_date, baseline_starts.first_date) as peak_date,
        coalesce(drawdown_episodes.trough_date, baseline_starts.first_date) as trough_date,
        coalesce(drawdown_episodes.max_drawdown, 0.0) as baseline_max_drawdown,
    from baseline_starts
    left join drawdown_episodes
        on baseline_starts.scaled_run_id = drawdown_episodes.scaled_run_id
        and drawdown_episodes.depth_rank = 1

),

episode_scalars as (

    -- rebalances from the peak up to (not including) the trough: a scalar set
    -- on the trough date only acts on returns after the trough
    select
        worst_episode.scaled_run_id,
        cast(count(run_scalars.rebalance_date) as {{ dbt.type_bigint() }}) as worst_dd_rebalances,
        cast(sum(case when run_scalars.is_scaled then 1 else 0 end) as {{ dbt.type_bigint() }}) as worst_dd_rebalances_scaled,
        min(run_scalars.risk_scalar_used) as worst_dd_scalar_min,
    from worst_episode
    left join run_scalars
        on worst_episode.scaled_run_id = run_scalars.scaled_run_id
        and run_scalars.rebalance_date >= worst_episode.peak_date
        and run_scalars.rebalance_date < worst_episode.trough_date
    group by worst_episode.scaled_run_id

),

final as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        coalesce(scalar_usage.rebalances_total, 0) as rebalances_total,
        coalesce(scalar_usage.rebalances_scaled, 0) as rebalances_scaled,
        cast(scalar_usage.rebalances_scaled as {{ dbt.type_float() }}) / nullif(scalar_usage.rebalances_total, 0) as pct_scaled,
        scalar_usage.scalar_mean,
        scalar_usage.scalar_min,
        scalar_usage.scalar_max,
        coalesce(regime_days.regime_days, 0) as regime_days,
        coalesce(regime_changes.regime_transitions, 0) as regime_transitions,
        cast(regime_changes.regime_transitions as {{ dbt.type_float() }}) * {{ allocator.sessions_per_year() }} / nullif(regime_days.regime_days, 0) as transitions_per_year,
        worst_episode.peak_date as baseline_worst_dd_peak_date,
        worst_episode.trough_date as baseline_worst_dd_trough_date,
        worst_episode.baseline_max_drawdown,
        coalesce(episode_scalars.worst_dd_rebalances, 0) as worst_dd_rebalances,
        coalesce(episode_scalars.worst_dd_rebalances_scaled, 0) as worst_dd_rebalances_scaled,
        episode_scalars.worst_dd_scalar_min,
    from pairs
    left join scalar_usage
        on pairs.scaled_run_id = scalar_usage.scaled_run_id
    left join regime_days
        on pairs.scaled_run_id = regime_days.scaled_run_id
    left join regime_changes
        on pairs.scaled_run_id = regime_changes.scaled_run_id
    left join worst_episode
        on pairs.scaled_run_id = worst_episode.scaled_run_id
    left join episode_scalars
        on pairs.scaled_run_id = episode_scalars.scaled_run_id

)

select * from final
