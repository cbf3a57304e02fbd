{#-
    Stage 6: the two-pass change of a scaled run with sleeve scalars (var
    sleeve_scalars), by sleeve. One row per (scaled run, sleeve), and one
    row `all` for the governor itself; no rows for a run without sleeve
    scalars or without a published baseline.
      return_change            sum over sessions of (scalar - 1) x the
                               sleeve's gross contribution: additive, the
                               sleeves add up to the row `all`;
      worst_drawdown_change    the same sum over the baseline's worst
                               drawdown (after its peak, to its trough): the
                               sleeve's share of the loss the governor
                               avoided there, additive;
      sharpe / max_drawdown    of the book with only that sleeve scaled (the
                               baseline's net return + that sleeve's change,
                               gross of the overlay's own trading costs), and
                               their change against the baseline; `all` is
                               the governor's own book, costs included. The
                               one-at-a-time changes need not add up: what
                               they leave is the sleeves' interaction.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

usage as (

    select * from {{ ref('two_pass_allocator_usage') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

sleeve_daily as (

    select * from {{ ref('allocator_sleeve_scalars_daily') }}

),

sleeve_contributions as (

    select * from {{ ref('sleeve_returns') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

sleeve_changes as (

    select
        sleeve_daily.date,
        sleeve_daily.sleeve,
        sleeve_daily.sleeve_scalar_used,
        (sleeve_daily.sleeve_scalar_used - 1.0) * coalesce(sleeve_contributions.sleeve_return, 0.0) as return_change,
    from sleeve_daily
    cross join run_config
    left join sleeve_contributions
        on sleeve_daily.date = sleeve_contributions.date
        and sleeve_daily.sleeve = sleeve_contributions.sleeve
    where run_config.sleeve_scalars <> 'off'
        and exists (select 1 from pairs)

),

one_sleeve_books as (

    -- the baseline with only this sleeve scaled; `all`: the governor's book
    select
        unscaled.run_id,
        sleeve_changes.sleeve,
        unscaled.date,
        unscaled.net_return + sleeve_changes.return_change as net_return,
    from sleeve_changes
    inner join unscaled
        on sleeve_changes.date = unscaled.date

    union all

    select
        scaled.run_id,
        'all' as sleeve,
        scaled.date,
        scaled.net_return,
    from scaled
    where exists (select 1 from sleeve_changes)

    union all

    select
        unscaled.run_id,
        '(baseline)' as sleeve,
        unscaled.date,
        unscaled.net_return,
    from unscaled
    where exists (select 1 from sleeve_changes)

),

with_equity as (

    select
        *,
        {{ allocator.wealth('net_return', 'partition by sleeve order by date') }} as equity,
    from one_sleeve_books

),

with_drawdown as (

    select
        *,
        {{ allocator.drawdown('equity', 'partition by sleeve order by date') }} as drawdown,
    from with_equity

),

book_returns as (

    {{ allocator.with_risk_free_return('with_drawdown', 'risk_free_rates') }}

),

{{ allocator.book_metrics('book_returns', 'net_return', 'drawdown', ['sleeve'], 'risk_free_return') }},

sleeve_summary as (

    select
        sleeve_changes.sleeve,
        avg(sleeve_changes.sleeve_scalar_used) as mean_scalar,
        min(sleeve_changes.sleeve_scalar_used) as min_scalar,
        sum(sleeve_changes.return_change) as return_change,
        sum(case
            when sleeve_changes.date > usage.baseline_worst_dd_peak_date
                and sleeve_changes.date <= usage.baseline_worst_dd_trough_date
            then sleeve_changes.return_change
            else 0.0
        end) as worst_drawdown_change,
    from sleeve_changes
    cross join usage
    group by sleeve_changes.sleeve

),

with_total as (

    select * from sleeve_summary

    union all

    select
        'all' as sleeve,
        (select avg(risk_scalar_used) from scaled) as mean_scalar,
        (select min(risk_scalar_used) from scaled) as min_scalar,
        sum(return_change) as return_change,
        sum(worst_drawdown_change) as worst_drawdown_change,
    from sleeve_summary
    having count(*) > 0

),

baseline_metrics as (

    select * from metrics
    where sleeve = '(baseline)'

),

final as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        with_total.sleeve,
        with_total.mean_scalar,
        with_total.min_scalar,
        with_total.return_change,
        with_total.worst_drawdown_change,
        metrics.sharpe,
        metrics.sharpe - baseline_metrics.sharpe as delta_sharpe,
        metrics.max_drawdown,
        metrics.max_drawdown - baseline_metrics.max_drawdown as delta_max_drawdown,
    from with_total
    cross join pairs
    cross join baseline_metrics
    inner join metrics
        on with_total.sleeve = metrics.sleeve

)

select * from final
