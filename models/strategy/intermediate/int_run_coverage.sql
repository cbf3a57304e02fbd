{#-
    One row: does the data cover what the run asks for? Checked right after
    the inputs are typed, before any layer is computed, so a run the data
    cannot carry stops with a message naming the run, the file and the dates
    instead of a generic test failing late:
    - the window lies within the book's data (prices, or the returns file of a
      returns-only book), neither starting before it nor ending after it, and
      holds at least two recorded sessions;
    - a book with holdings has a session before start to decide its opening
      weights on;
    - the built-in sleeves have the history their signals and vol targets
      need before start (the longest signal lookback + the sleeve vol window);
    - every symbol a weights file holds has prices.
-#}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

prices as (

    select * from {{ ref('stg_market__prices') }}

),

book_returns as (

    select * from {{ ref('stg_portfolio__returns') }}

),

file_weights as (

    select * from {{ ref('stg_portfolio__weights') }}

),

book_dates as (

    -- the dates the book can earn on: the returns file's, or the market's
    select distinct date from book_returns
    where (select portfolio_source from run_config) = 'returns_file'
    union all
    select distinct date from prices
    where (select portfolio_source from run_config) <> 'returns_file'

),

coverage as (

    select
        min(book_dates.date) as first_date,
        max(book_dates.date) as last_date,
        count(case when book_dates.date between run_config.start_date and run_config.end_date then 1 end) as recorded_sessions,
        count(case when book_dates.date < run_config.start_date then 1 end) as sessions_before_start,
    from book_dates
    cross join run_config

),

orphans as (

    select {{ allocator.sorted_distinct_list('symbol', ', ') }} as symbols,
    from file_weights
    where weight <> 0 and symbol not in (select symbol from prices)

),

checked as (

    select
        run_config.run_id,
        coverage.first_date,
        coverage.last_date,
        coverage.recorded_sessions,
        coverage.sessions_before_start,
        greatest(run_config.trend_lookback_days, run_config.csmom_lookback_days)
            + run_config.sleeve_vol_lookback_days as strategy_history_needed,
        case run_config.portfolio_source
            when 'returns_file' then 'portfolio returns file ''' || {{ allocator.sql_literal(allocator.run_var('portfolio_returns_path', '')) }} || ''''
            else 'prices file ''' || {{ allocator.sql_literal(allocator.run_var('prices_path', '')) }} || ''''
        end as described,
        run_config.start_date,
        run_config.end_date,
        run_config.portfolio_source,
        orphans.symbols as orphan_symbols,
    from run_config
    cross join coverage
    cross join orphans

),

final as (

    select
        *,
        case
            -- a live update reads a bounded lookback of the closes its start
            -- checked (stg_live__update checks the new file)
            when {{ 'true' if allocator.is_live_update() else 'false' }} then null
            when first_date is null or start_date > last_date or end_date < first_date then error(
                'run ''' || run_id || ''': the window ' || cast(start_date as varchar) || ' to ' || cast(end_date as varchar)
                || ' lies outside the ' || described || ', which covers '
                || coalesce(cast(first_date as varchar) || ' to ' || cast(last_date as varchar), 'no dates') || ': give a window within it'
            )
            -- a window reaching past the data would be reported as if it were covered
            when end_date > last_date or start_date < first_date then error(
                'run ''' || run_id || ''': the window ' || cast(start_date as varchar) || ' to ' || cast(end_date as varchar)
                || ' reaches outside the ' || described || ', which covers ' || cast(first_date as varchar) || ' to '
                || cast(last_date as varchar) || ': end on or before ' || cast(last_date as varchar)
                || ' and start on or after ' || cast(first_date as varchar)
            )
            when recorded_sessions < 2 then error(
                'run ''' || run_id || ''': the window ' || cast(start_date as varchar) || ' to ' || cast(end_date as varchar) || ' holds '
                || cast(recorded_sessions as varchar) || ' session(s) of the ' || described
                || ': a run needs at least 2 (a return needs two closes)'
            )
            when portfolio_source <> 'returns_file' and sessions_before_start < 1 then error(
                'run ''' || run_id || ''': the window starts ' || cast(start_date as varchar) || ', on the first date of the '
                || described || ': the book needs a session before start to decide its opening weights; '
                || 'start later'
            )
            when portfolio_source = 'strategy' and sessions_before_start < strategy_history_needed then error(
                'run ''' || run_id || ''': the ' || described || ' has ' || cast(sessions_before_start as varchar)
                || ' sessions before start ' || cast(start_date as varchar) || '; the strategy needs '
                || cast(strategy_history_needed as varchar) || ' (its longest signal lookback + the sleeve vol window) '
                || 'to be fully invested from start: start later or give more history'
            )
            when orphan_symbols is not null then error(
                'run ''' || run_id || ''': weights file ''' || {{ allocator.sql_literal(allocator.run_var('weights_path', '')) }}
                || ''' holds symbol(s) with no prices in the ' || described || ': ' || orphan_symbols
                || '. Add their closes or drop them from the weights'
            )
        end as failed,
    from checked

)

select * from final where failed is null
