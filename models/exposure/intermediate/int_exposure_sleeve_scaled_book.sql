{#-
    Stage 6 (var sleeve_scalars; no rows when off): the book with each
    sleeve scaled by its own delivered scalar, priced by the one pricing of
    an exposure (macros/price_exposure.sql). The scaled book's weight of a
    symbol on session t is sum over sleeves of the sleeve's weight x that
    sleeve's scalar on t; those per-symbol weights are fed to the pricing as
    a book that rebalances every session at exposure 1, so its turnover is
    the change of the per-symbol weights (netted across sleeves that share
    a symbol) and it earns sum over sleeves of scalar x the sleeve's
    contribution (sleeve_returns). On the book's first session it pays the
    entry into its scaled weights when the unscaled book enters from cash
    there, nothing when the window opens inside a holding period, as the
    book-level pricing does.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

sleeve_daily as (

    select * from {{ ref('allocator_sleeve_scalars_daily') }}

),

sleeve_weights as (

    select * from {{ ref('strategy_sleeve_weights') }}

),

sleeve_contributions as (

    select * from {{ ref('sleeve_returns') }}

),

scaled_weights as (

    -- keyed by session: each session is its own "rebalance" of the fed book
    select
        sleeve_daily.date as rebalance_date,
        sleeve_weights.symbol,
        sum(sleeve_weights.weight * sleeve_daily.sleeve_scalar_used) as weight,
    from sleeve_daily
    inner join sleeve_weights
        on sleeve_daily.held_rebalance_date = sleeve_weights.rebalance_date
        and sleeve_daily.sleeve = sleeve_weights.sleeve
    group by sleeve_daily.date, sleeve_weights.symbol

),

scaled_gross_exposure as (

    select rebalance_date as date, sum(abs(weight)) as gross_exposure,
    from scaled_weights
    group by rebalance_date

),

sleeve_gross_exposure as (

    select rebalance_date, sleeve, sum(abs(weight)) as gross_exposure,
    from sleeve_weights
    group by rebalance_date, sleeve

),

effective_scalars as (

    -- the book's scalar: the sleeves' scalars weighted by their gross
    -- exposures, kept within their range (equal scalars give exactly theirs)
    select
        sleeve_daily.date,
        greatest(
            least(
                sum(sleeve_daily.sleeve_scalar_used * sleeve_gross_exposure.gross_exposure)
                / nullif(sum(sleeve_gross_exposure.gross_exposure), 0),
                max(sleeve_daily.sleeve_scalar_used)
            ),
            min(sleeve_daily.sleeve_scalar_used)
        ) as effective_scalar,
    from sleeve_daily
    inner join sleeve_gross_exposure
        on sleeve_daily.held_rebalance_date = sleeve_gross_exposure.rebalance_date
        and sleeve_daily.sleeve = sleeve_gross_exposure.sleeve
    group by sleeve_daily.date

),

scaled_gross_return as (

    select
        sleeve_daily.date,
        sum(sleeve_daily.sleeve_scalar_used * sleeve_contributions.sleeve_return) as gross_return,
    from sleeve_daily
    inner join sleeve_contributions
        on sleeve_daily.date = sleeve_contributions.date
        and sleeve_daily.sleeve = sleeve_contributions.sleeve
    group by sleeve_daily.date

),

scaled_book as (

    -- the fed book before its exposure of 1: its turnover is read on its
    -- first session only (the entry), like the unscaled book's
    select
        unscaled.date,
        unscaled.date as held_rebalance_date,
        unscaled.held_rebalance_date as book_held_rebalance_date,
        coalesce(scaled_gross_return.gross_return, 0.0) as gross_return,
        case
            when unscaled.turnover = 0 then 0.0
            else coalesce(scaled_gross_exposure.gross_exposure, 0.0)
        end as turnover,
        coalesce(effective_scalars.effective_scalar, 1.0) as effective_scalar,
    from unscaled
    cross join run_config
    left join scaled_gross_return
        on unscaled.date = scaled_gross_return.date
    left join scaled_gross_exposure
        on unscaled.date = scaled_gross_exposure.date
    left join effective_scalars
        on unscaled.date = effective_scalars.date
    where run_config.sleeve_scalars <> 'off'

),

exposures as (

    select
        'sleeves' as book,
        date,
        held_rebalance_date,
        1.0 as exposure,
    from scaled_book

),

{{ allocator.price_exposure('exposures', 'scaled_book', 'scaled_weights', 'run_config', ['book']) }},

final as (

    select
        run_config.run_id,
        priced_exposure.date,
        scaled_book.book_held_rebalance_date as held_rebalance_date,
        scaled_book.effective_scalar,
        priced_exposure.gross_return,
        priced_exposure.turnover,
        priced_exposure.transaction_cost,
        priced_exposure.net_return,
    from priced_exposure
    inner join scaled_book
        on priced_exposure.date = scaled_book.date
    cross join run_config

)

select * from final
