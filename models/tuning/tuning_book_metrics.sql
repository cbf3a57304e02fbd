{#- The six audit metrics of each book of tuning_books_daily over the
    out-of-sample sessions (macros/book_metrics.sql). -#}
with books as (

    select * from {{ ref('tuning_books_daily') }}

),

wealth as (

    select
        *,
        {{ allocator.wealth('net_return', 'partition by book order by date') }} as equity,
    from books

),

daily as (

    select
        *,
        {{ allocator.drawdown('equity', 'partition by book order by date') }} as drawdown,
    from wealth

),

{{ allocator.book_metrics('daily', 'net_return', 'drawdown', ['book']) }},

final as (

    select
        book,
        first_date,
        last_date,
        return_days,
        cagr,
        ann_vol,
        sharpe,
        max_drawdown,
        worst_month,
        worst_quarter,
        cagr / nullif(abs(max_drawdown), 0) as calmar,
    from metrics

)

select * from final
