{#- Tail and downside risk of each run, and of its benchmark when one is
    given, with the book's beta and correlation to it: empyrical's
    conventions (macros/risk_metrics.sql). The headline figures the Calmar
    ratio needs come from run_metrics' definitions (macros/book_metrics.sql). -#}
with portfolio as (

    select * from {{ ref('portfolio_returns') }}

),

book_headline as (

    select * from {{ ref('run_metrics') }}

),

benchmark as (

    select * from {{ ref('benchmark_returns') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

-- Sortino and Sharpe measure the returns in excess of the risk-free rate
book as (

    {{ allocator.with_risk_free_return('portfolio', 'risk_free_rates') }}

),

benchmark_daily as (

    {{ allocator.with_risk_free_return('benchmark', 'risk_free_rates') }}

),

{{ allocator.risk_metrics('book', 'portfolio_return', 'book', 'risk_free_return') }},

{{ allocator.risk_metrics('benchmark_daily', 'benchmark_return', 'benchmark', 'risk_free_return') }},

{{ allocator.book_metrics('benchmark_daily', 'benchmark_return', 'benchmark_drawdown', risk_free_column='risk_free_return') }},

paired as (

    select
        book.portfolio_return,
        benchmark_daily.benchmark_return,
    from book
    inner join benchmark_daily
        on book.date = benchmark_daily.date

),

benchmark_relation as (

    -- empyrical.beta: population covariance over the benchmark's population variance
    select
        case when var_pop(benchmark_return) > 0 then covar_pop(portfolio_return, benchmark_return) / var_pop(benchmark_return) end as beta,
        corr(portfolio_return, benchmark_return) as correlation,
        count(*) as paired_days,
    from paired

),

benchmark_name as (

    select min(benchmark_symbol) as benchmark_symbol,
    from benchmark_daily

),

final as (

    select
        book_headline.run_id,
        book_risk.return_days,
        book_risk.downside_vol,
        book_risk.sortino,
        {{ allocator.calmar_ratio('book_headline.cagr', 'book_headline.max_drawdown') }} as calmar,
        book_risk.skew,
        book_risk.kurtosis,
        book_risk.value_at_risk_95,
        book_risk.conditional_value_at_risk_95,
        benchmark_name.benchmark_symbol,
        benchmark_risk.return_days as benchmark_return_days,
        metrics.cagr as benchmark_cagr,
        metrics.ann_vol as benchmark_ann_vol,
        metrics.sharpe as benchmark_sharpe,
        metrics.max_drawdown as benchmark_max_drawdown,
        benchmark_risk.downside_vol as benchmark_downside_vol,
        benchmark_risk.sortino as benchmark_sortino,
        {{ allocator.calmar_ratio('metrics.cagr', 'metrics.max_drawdown') }} as benchmark_calmar,
        benchmark_risk.skew as benchmark_skew,
        benchmark_risk.kurtosis as benchmark_kurtosis,
        benchmark_risk.value_at_risk_95 as benchmark_value_at_risk_95,
        benchmark_risk.conditional_value_at_risk_95 as benchmark_conditional_value_at_risk_95,
        benchmark_relation.paired_days as benchmark_paired_days,
        benchmark_relation.beta,
        benchmark_relation.correlation,
    from book_headline
    cross join book_risk
    cross join benchmark_risk
    cross join benchmark_name
    cross join benchmark_relation
    left join metrics
        on true

)

select * from final
