{#-
    Average pairwise correlation of the held symbols, exact: the mean over all
    pairs i < j of the Pearson correlation of daily returns over the last 20
    and 60 observations. A pair without a full window of joint observations,
    or with a constant return in the window (correlation undefined), is left
    out. O(N^2) pairs per day, so it runs only when the run holds at most
    correlation_exact_max_symbols symbols (int_allocator_held_symbols decides).
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
    -- does no work (the exact path must not even run on the other universe)
    select symbol from held_symbols
    where correlation_method = 'exact'

),

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
