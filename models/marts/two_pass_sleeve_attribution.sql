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
      sharpe / max_drawdown    of the book with only that sleeve scaled
                               (int_two_pass_sleeve_books), and their change
                               against the baseline; `all` is the governor's
                               own book, costs included. The one-at-a-time
                               changes need not add up: what they leave is
                               the sleeves' interaction.
-#}
with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

usage as (

    select * from {{ ref('two_pass_allocator_usage') }}

),

scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

sleeve_changes as (

    select * from {{ ref('int_two_pass_sleeve_changes') }}

),

book_returns as (

    select * from {{ ref('int_two_pass_sleeve_books') }}

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

governor_summary as (

    select
        'all' as sleeve,
        (select avg(risk_scalar_used) from scaled) as mean_scalar,
        (select min(risk_scalar_used) from scaled) as min_scalar,
        sum(return_change) as return_change,
        sum(worst_drawdown_change) as worst_drawdown_change,
    from sleeve_summary
    having count(*) > 0

),

with_total as (

    select * from sleeve_summary
    union all
    select * from governor_summary

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
