{#-
    The one pricing of an exposure on the unscaled book, shared by the scaled
    book (portfolio_returns_scaled) and the two-pass controls
    (controls_returns), so a control pays exactly the governor's costs.

    On session t a book holds a_t x w_k (a_t its exposure that session, w_k
    the weights of the rebalance it holds) and earns a_t x the unscaled
    book's gross return. Turnover is the change in holdings, charged at the
    profile's cost on the session it happens (macros/simulate_portfolio.sql's
    convention): sum_i |a_t w_k,i - a_(t-1) w_(k-1),i| on the first session
    of a rebalance, and |a_t - a_(t-1)| x the gross exposure sum_i |w_k,i|
    on the others (the overlay's own trading). On the book's first session
    it pays a_t x the unscaled book's own turnover that session: the entry
    from cash when the window opens on a rebalance, nothing when it opens
    inside a holding period (the unscaled book is then already invested), so
    at exposure 1 the two books are equal from the first session. A
    returns-only book (no weights) holds a gross exposure of 1: its turnover
    is |a_t - a_(t-1)|, and it starts invested as the unscaled book does.

    exposures: book_columns, date, held_rebalance_date, exposure (one row per
    book and session); unscaled: portfolio_returns_unscaled; weights:
    weights_raw; run_config: stg_run_config. Produces CTEs ending in
    `priced_exposure`: book_columns, date, held_rebalance_date, exposure,
    gross_return, turnover, transaction_cost, net_return.
-#}
{% macro price_exposure(exposures, unscaled, weights, run_config, book_columns) %}
{%- set book_window = 'partition by ' ~ (book_columns | join(', ')) ~ ' order by ' ~ unscaled ~ '.date' -%}
{%- set books = book_columns | join(', ') -%}
{%- set first_books = 'exposure_first_sessions.' ~ (book_columns | join(', exposure_first_sessions.')) -%}
    exposure_sessions as (

    select
        {%- for column in book_columns %}
        {{ exposures }}.{{ column }},
        {%- endfor %}
        {{ unscaled }}.date,
        {{ unscaled }}.held_rebalance_date is null as is_returns_only,
        {{ exposures }}.held_rebalance_date,
        lag({{ exposures }}.held_rebalance_date) over ({{ book_window }}) as previous_held_rebalance_date,
        {{ exposures }}.exposure,
        lag({{ exposures }}.exposure) over ({{ book_window }}) as previous_exposure,
        {{ unscaled }}.gross_return as unscaled_gross_return,
        {{ unscaled }}.turnover as unscaled_turnover,
    from {{ unscaled }}
    inner join {{ exposures }}
        on {{ unscaled }}.date = {{ exposures }}.date

),

exposure_first_sessions as (

    -- a weights book's sessions that open a new rebalance's weights, after
    -- its first session (priced from the unscaled book's entry)
    select * from exposure_sessions
    where not is_returns_only
        and previous_held_rebalance_date is not null
        and previous_held_rebalance_date != held_rebalance_date

),

exposure_first_session_positions as (

    select {{ first_books }}, exposure_first_sessions.date, {{ weights }}.symbol, exposure_first_sessions.exposure * {{ weights }}.weight as new_position, 0.0 as old_position,
    from exposure_first_sessions
    inner join {{ weights }}
        on {{ weights }}.rebalance_date = exposure_first_sessions.held_rebalance_date
    union all
    select {{ first_books }}, exposure_first_sessions.date, {{ weights }}.symbol, 0.0, exposure_first_sessions.previous_exposure * {{ weights }}.weight,
    from exposure_first_sessions
    inner join {{ weights }}
        on {{ weights }}.rebalance_date = exposure_first_sessions.previous_held_rebalance_date

),

exposure_first_session_turnover as (

    select {{ books }}, date, sum(abs(new_position - old_position)) as turnover,
    from (
        select {{ books }}, date, symbol, sum(new_position) as new_position, sum(old_position) as old_position,
        from exposure_first_session_positions
        group by {{ books }}, date, symbol
    ) as netted
    group by {{ books }}, date

),

exposure_gross_exposure as (

    select rebalance_date, sum(abs(weight)) as gross_exposure,
    from {{ weights }}
    group by rebalance_date

),

exposure_turnover as (

    select
        {%- for column in book_columns %}
        exposure_sessions.{{ column }},
        {%- endfor %}
        exposure_sessions.date,
        exposure_sessions.held_rebalance_date,
        exposure_sessions.exposure,
        exposure_sessions.unscaled_gross_return * exposure_sessions.exposure as gross_return,
        case
            when exposure_sessions.is_returns_only
                then abs(exposure_sessions.exposure - coalesce(exposure_sessions.previous_exposure, exposure_sessions.exposure))
            when exposure_sessions.previous_held_rebalance_date is null
                then exposure_sessions.exposure * exposure_sessions.unscaled_turnover
            when exposure_first_session_turnover.date is not null then exposure_first_session_turnover.turnover
            when exposure_sessions.previous_held_rebalance_date = exposure_sessions.held_rebalance_date
                then abs(exposure_sessions.exposure - exposure_sessions.previous_exposure) * coalesce(exposure_gross_exposure.gross_exposure, 0.0)
            else 0.0
        end as turnover,
        {{ run_config }}.transaction_cost_bps,
    from exposure_sessions
    cross join {{ run_config }}
    left join exposure_first_session_turnover
        on exposure_sessions.date = exposure_first_session_turnover.date
        {%- for column in book_columns %}
        and exposure_sessions.{{ column }} = exposure_first_session_turnover.{{ column }}
        {%- endfor %}
    left join exposure_gross_exposure
        on exposure_sessions.held_rebalance_date = exposure_gross_exposure.rebalance_date

),

priced_exposure as (

    select
        {%- for column in book_columns %}
        {{ column }},
        {%- endfor %}
        date,
        held_rebalance_date,
        exposure,
        gross_return,
        turnover,
        turnover * transaction_cost_bps / 10000.0 as transaction_cost,
        gross_return - turnover * transaction_cost_bps / 10000.0 as net_return,
    from exposure_turnover

)
{%- endmacro %}
