{#-
    Simple returns per symbol from validated closes.

    A day on which a symbol has no close stays missing: no row, no zero, no
    forward fill. The next return is measured from the last available close
    and flagged (is_gap_return, missed_sessions), where a session is any date
    on which the input has at least one close.
-#}
{% macro returns_from_closes(closes_cte, sessions_cte) %}
    closes_on_sessions as (
        select
            closes.date,
            closes.symbol,
            closes.close,
            sessions.session_index,
        from {{ closes_cte }} as closes
        inner join {{ sessions_cte }} as sessions
            on closes.date = sessions.date
    ),

    closes_with_previous as (
        select
            *,
            lag(date) over by_symbol as previous_date,
            lag(close) over by_symbol as previous_close,
            lag(session_index) over by_symbol as previous_session_index,
        from closes_on_sessions
        window by_symbol as (partition by symbol order by date)
    ),

    simple_returns as (
        select
            date,
            symbol,
            close,
            previous_date,
            previous_close,
            close / previous_close - 1 as simple_return,
            session_index - previous_session_index - 1 as missed_sessions,
            session_index - previous_session_index > 1 as is_gap_return,
        from closes_with_previous
        where previous_close is not null
    )
{% endmacro %}
