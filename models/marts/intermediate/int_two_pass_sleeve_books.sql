{#-
    Stage 6 (var sleeve_scalars; no rows when off or without a published
    baseline): the daily books two_pass_sleeve_attribution measures, one
    row per (sleeve, session). A sleeve's book is the baseline with only
    that sleeve scaled: the baseline's net return + (scalar - 1) x the
    sleeve's gross contribution (sleeve_returns), so gross of the overlay's
    own trading costs (int_two_pass_sleeve_changes). `all` is the
    governor's book (the scaled run, costs included) and `(baseline)` the
    unscaled book, each with its wealth, drawdown and the run's risk-free
    return for the metrics.
-#}
with sleeve_changes as (

    select * from {{ ref('int_two_pass_sleeve_changes') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

one_sleeve_books as (

    select
        unscaled.run_id,
        sleeve_changes.sleeve,
        unscaled.date,
        unscaled.net_return + sleeve_changes.return_change as net_return,
    from sleeve_changes
    inner join unscaled
        on sleeve_changes.date = unscaled.date

),

governor_book as (

    select
        scaled.run_id,
        'all' as sleeve,
        scaled.date,
        scaled.net_return,
    from scaled
    where exists (select 1 from sleeve_changes)

),

baseline_book as (

    select
        unscaled.run_id,
        '(baseline)' as sleeve,
        unscaled.date,
        unscaled.net_return,
    from unscaled
    where exists (select 1 from sleeve_changes)

),

books as (

    select * from one_sleeve_books
    union all
    select * from governor_book
    union all
    select * from baseline_book

),

with_equity as (

    select
        *,
        {{ allocator.wealth('net_return', 'partition by sleeve order by date') }} as equity,
    from books

),

with_drawdown as (

    select
        *,
        {{ allocator.drawdown('equity', 'partition by sleeve order by date') }} as drawdown,
    from with_equity

),

final as (

    {{ allocator.with_risk_free_return('with_drawdown', 'risk_free_rates') }}

)

select * from final
