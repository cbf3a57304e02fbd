{#-
    Average pairwise correlation of the portfolio's symbols (every symbol held
    in weights_raw during the run) over the last 20 and 60 observations.

    exact   (held symbols <= var correlation_exact_max_symbols): the mean over
            all pairs i < j of the Pearson correlation of daily returns. A pair
            without a full window of joint observations, or with a constant
            return in the window (correlation undefined), is left out.
            O(N^2) pairs per day.
    implied (above the threshold): the average correlation implied by the
            variance of an equal-risk book and its symbols' variances,
                rho = (var(sum_i z_i) - sum_i var(z_i)) / ((sum_i sd(z_i))^2 - sum_i var(z_i)),
            i.e. the sum of pairwise covariances over the sum of pairwise sd
            products, where z_i is the symbol's return divided by its own
            trailing 60-return volatility as of the previous day (so a few
            volatile names do not dominate, which halves the error of the raw
            equal-weight version). O(N) per day. A return missing inside a
            window, or a symbol without 60 earlier returns, counts as 0 (the
            symbol is damped rather than dropped).
    The error of implied against exact on the demo run is in the docs.
-#}
{%- set windows = allocator.allocator_state_windows() -%}
{%- set method = allocator.correlation_method(ref('weights_raw')) -%}

with observations as (

    select * from {{ ref('int_allocator_observations') }}

),

weights as (

    select * from {{ allocator.current_run(ref('weights_raw')) }}

),

market_returns as (

    select * from {{ ref('stg_market__returns') }}

),

universe as (

    select distinct symbol from weights

),

{%- if method == 'exact' %}

symbol_returns as (

    -- every (observation, symbol); the return stays null when the symbol has none that day
    select
        observations.date,
        observations.observation_index,
        universe.symbol,
        market_returns.simple_return,
    from observations
    cross join universe
    left join market_returns
        on market_returns.date = observations.date
        and market_returns.symbol = universe.symbol

),

symbol_windows_full as (

    -- a pair has a full window of joint observations exactly when both of its
    -- symbols have a return on every observation of the window; flagging
    -- symbols (N rows a day) is cheaper than counting pairs (N^2 a day)
    select
        *,
        count(simple_return) over (by_symbol {{ allocator.trailing_rows(windows['short']) }}) = {{ windows['short'] }} as is_full_short,
        count(simple_return) over (by_symbol {{ allocator.trailing_rows(windows['long']) }}) = {{ windows['long'] }} as is_full_long,
    from symbol_returns
    window by_symbol as (partition by symbol order by observation_index)

),

pairs as (

    select first_symbol.symbol as symbol_a, second_symbol.symbol as symbol_b,
    from universe as first_symbol
    inner join universe as second_symbol
        on first_symbol.symbol < second_symbol.symbol

),

pair_returns as (

    select
        pairs.symbol_a,
        pairs.symbol_b,
        returns_a.date,
        returns_a.observation_index,
        returns_a.simple_return as return_a,
        returns_b.simple_return as return_b,
        returns_a.is_full_short and returns_b.is_full_short as is_full_short,
        returns_a.is_full_long and returns_b.is_full_long as is_full_long,
    from pairs
    inner join symbol_windows_full as returns_a
        on returns_a.symbol = pairs.symbol_a
    inner join symbol_windows_full as returns_b
        on returns_b.symbol = pairs.symbol_b
        and returns_b.observation_index = returns_a.observation_index

),

pair_windows as (

    select
        date,
        is_full_short,
        is_full_long,
        corr(return_a, return_b) over short_window as corr_short,
        corr(return_a, return_b) over long_window as corr_long,
    from pair_returns
    window
        short_window as (partition by symbol_a, symbol_b order by observation_index {{ allocator.trailing_rows(windows['short']) }}),
        long_window as (partition by symbol_a, symbol_b order by observation_index {{ allocator.trailing_rows(windows['long']) }})

),

usable_pairs as (

    -- a pair counts only with a full window of joint observations and a defined correlation
    select
        date,
        case when is_full_short and isfinite(corr_short) then corr_short end as corr_short,
        case when is_full_long and isfinite(corr_long) then corr_long end as corr_long,
    from pair_windows

),

correlations as (

    select
        date,
        avg(corr_short) as corr_20d,
        avg(corr_long) as corr_60d,
        count(corr_short) as corr_20d_pairs,
        count(corr_long) as corr_60d_pairs,
    from usable_pairs
    group by date

),

{%- else %}

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

{%- endif %}

final as (

    select
        observations.date,
        correlations.corr_20d,
        correlations.corr_60d,
        coalesce(correlations.corr_20d_pairs, 0) as corr_20d_pairs,
        coalesce(correlations.corr_60d_pairs, 0) as corr_60d_pairs,
        '{{ method }}' as correlation_method,
    from observations
    left join correlations
        on observations.date = correlations.date

)

select * from final
