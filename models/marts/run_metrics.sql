{#-
    Headline performance of each run, empyrical conventions:
    years = daily returns / 252; volatility = stddev (ddof 1) x sqrt(252);
    Sharpe = mean / stddev x sqrt(252) with a zero risk-free rate;
    CAGR = final wealth ^ (1 / years) - 1; wealth starts at 1.0 before the
    first return (so a loss on day one is a drawdown); months and quarters are
    calendar periods, compounded.
-#}
with daily as (

    select * from {{ ref('portfolio_returns') }}

),

{{ allocator.book_metrics('daily', 'portfolio_return', 'drawdown') }},

final as (

    select * from metrics

)

select * from final
