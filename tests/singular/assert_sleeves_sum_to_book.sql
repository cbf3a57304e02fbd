-- The sleeves' daily contributions add up to the book's gross return in the
-- run being built: sleeve attribution never drifts from the priced book.
with sleeves as (

    select run_id, date, sum(sleeve_return) as sleeve_total,
    from {{ ref('sleeve_returns') }}
    group by run_id, date

),

book as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

final as (

    select book.run_id, book.date, book.gross_return, sleeves.sleeve_total,
    from book
    inner join sleeves
        on book.run_id = sleeves.run_id
        and book.date = sleeves.date
    where abs(book.gross_return - sleeves.sleeve_total) > 1e-12

)

select * from final
