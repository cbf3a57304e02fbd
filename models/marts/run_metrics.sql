{#-
    Headline performance of each run, empyrical conventions:
    years = daily returns / 252; volatility = stddev (ddof 1) x sqrt(252);
    Sharpe = mean / stddev x sqrt(252) of the returns in excess of the
    risk-free rate (vars risk_free_rate or risk_free_path, macros/risk_free.sql; 0 by default);
    CAGR = final wealth ^ (1 / years) - 1; wealth starts at 1.0 before the
    first return (so a loss on day one is a drawdown); months and quarters are
    calendar periods, compounded.
-#}
with portfolio as (

    select * from {{ ref('portfolio_returns') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

daily as (

    {{ allocator.with_risk_free_return('portfolio', 'risk_free_rates') }}

),

{{ allocator.book_metrics('daily', 'portfolio_return', 'drawdown', risk_free_column='risk_free_return') }},

final as (

    select * from metrics

)

select * from final
