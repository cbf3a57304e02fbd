{#-
    Average pairwise correlation of the held symbols, implied, O(N) per day:
    the correlation implied by the variance of an equal-risk book and its
    symbols' variances,
        rho = (var(sum_i z_i) - sum_i var(z_i)) / ((sum_i sd(z_i))^2 - sum_i var(z_i)),
    i.e. the sum of pairwise covariances over the sum of pairwise sd products,
    where z_i is the symbol's return divided by its own trailing 60-return
    volatility as of the previous day (so a few volatile names do not
    dominate, which halves the error of the raw equal-weight version). A
    return missing inside a window, or a symbol without 60 earlier returns,
    counts as 0 (the symbol is damped rather than dropped). Runs only above
    correlation_exact_max_symbols held symbols; its error against the exact
    mean on the demo is in the docs.
-#}
{%- set windows = allocator.allocator_state_windows() -%}

with observations as (

    select * from {{ ref('int_allocator_observations') }}
    -- a live update: the lookback only (its market returns start there)
    {{ allocator.live_lookback_rows('date') }}

),

held_symbols as (

    select * from {{ ref('int_allocator_held_symbols') }}

),

market_returns as (

    select * from {{ ref('stg_market__returns') }}

),

universe as (

    -- no symbol at all when the run uses the other method, so this model
    -- does no work (the implied path must not even run on the other universe)
    select symbol from held_symbols
    where correlation_method = 'implied'

),

scaled_returns as (

    -- each return over the symbol's volatility of its previous 60 returns
    -- (known the day before, so a return never scales itself)
    select
        date,
        symbol,
        simple_return / nullif(
            case when count(*) over prior_returns = {{ windows['long'] }} then stddev_samp(simple_return) over prior_returns end,
            0
        ) as scaled_return,
    from market_returns
    where symbol in (select symbol from universe)
    window prior_returns as (partition by symbol order by date rows between {{ windows['long'] }} preceding and 1 preceding)

),

filled_returns as (

    -- every (observation, symbol): a missing return, or one without a prior
    -- volatility, counts as 0
    select
        observations.date,
        observations.observation_index,
        universe.symbol,
        coalesce(scaled_returns.scaled_return, 0.0) as filled_return,
    from observations
    cross join universe
    left join scaled_returns
        on scaled_returns.date = observations.date
        and scaled_returns.symbol = universe.symbol

),

symbol_windows as (

    select
        date,
        var_samp(filled_return) over short_window as var_short,
        var_samp(filled_return) over long_window as var_long,
    from filled_returns
    window
        short_window as (partition by symbol order by observation_index {{ allocator.trailing_rows(windows['short']) }}),
        long_window as (partition by symbol order by observation_index {{ allocator.trailing_rows(windows['long']) }})

),

symbol_sums as (

    select
        date,
        sum(var_short) as sum_var_short,
        sum(sqrt(var_short)) as sum_sd_short,
        sum(var_long) as sum_var_long,
        sum(sqrt(var_long)) as sum_sd_long,
        count(case when var_short > 0 then 1 end) as symbols_short,
        count(case when var_long > 0 then 1 end) as symbols_long,
    from symbol_windows
    group by date

),

book_returns as (

    select observation_index, date, sum(filled_return) as book_return,
    from filled_returns
    group by observation_index, date

),

book_windows as (

    select
        date,
        observation_index,
        var_samp(book_return) over (order by observation_index {{ allocator.trailing_rows(windows['short']) }}) as book_var_short,
        var_samp(book_return) over (order by observation_index {{ allocator.trailing_rows(windows['long']) }}) as book_var_long,
    from book_returns

),

correlations as (

    select
        book_windows.date,
        case
            when book_windows.observation_index >= {{ windows['short'] }}
                and symbol_sums.sum_sd_short * symbol_sums.sum_sd_short - symbol_sums.sum_var_short > 0
            then (book_windows.book_var_short - symbol_sums.sum_var_short)
                / (symbol_sums.sum_sd_short * symbol_sums.sum_sd_short - symbol_sums.sum_var_short)
        end as corr_20d,
        case
            when book_windows.observation_index >= {{ windows['long'] }}
                and symbol_sums.sum_sd_long * symbol_sums.sum_sd_long - symbol_sums.sum_var_long > 0
            then (book_windows.book_var_long - symbol_sums.sum_var_long)
                / (symbol_sums.sum_sd_long * symbol_sums.sum_sd_long - symbol_sums.sum_var_long)
        end as corr_60d,
        -- pairs of symbols with a non-zero variance in the window
        cast(symbol_sums.symbols_short * (symbol_sums.symbols_short - 1) / 2 as bigint) as corr_20d_pairs,
        cast(symbol_sums.symbols_long * (symbol_sums.symbols_long - 1) / 2 as bigint) as corr_60d_pairs,
    from book_windows
    inner join symbol_sums
        on book_windows.date = symbol_sums.date

),

final as (

    select
        date,
        corr_20d,
        corr_60d,
        corr_20d_pairs,
        corr_60d_pairs,
    from correlations

)

select * from final
