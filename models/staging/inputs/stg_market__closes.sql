{#-
    The closes the run computes from: the prices file's. In a live update
    (var live_update), a bounded lookback instead: the live run's stored
    closes from stg_live__update.lookback_start, and the file's from the cut
    on (the gate has checked that the two agree where they overlap). A
    symbol that trades on the new sessions but has fewer closes in the
    lookback than its longest signal window (it did not trade every
    session) brings its own last stored closes, so its windows see what a
    whole build would.
-#}
{%- set stored = adapter.get_relation(target.get('database'), 'artifacts', 'live_closes') if execute else none %}
-- depends_on: {{ ref('stg_run_config') }}
with file_closes as (

    select * from {{ ref('stg_market__prices') }}

),

update_window as (

    select * from {{ ref('stg_live__update') }}

),

{%- if allocator.is_live_update() and stored is not none %}

run_config as (

    select * from {{ ref('stg_run_config') }}

),

needed as (

    -- closes a symbol needs behind a new row: its longest window and the
    -- sessions of the lookback
    select
        greatest(trend_lookback_days, csmom_lookback_days, asset_vol_lookback_days) + 2 as closes_per_signal,
        (select lookback_sessions from update_window) as lookback_sessions,
    from run_config

),

stored_lookback as (

    select live_closes.date, live_closes.symbol, live_closes.close
    from {{ stored }} as live_closes
    cross join update_window
    where live_closes.run_id = update_window.run_id
      and live_closes.date >= update_window.lookback_start
      and live_closes.date < update_window.live_cut

),

new_closes as (

    select file_closes.date, file_closes.symbol, file_closes.close
    from file_closes
    cross join update_window
    where file_closes.date >= update_window.live_cut

),

sparse_symbols as (

    select distinct new_closes.symbol
    from new_closes
    where new_closes.symbol not in (
        select symbol from stored_lookback
        group by symbol
        having count(*) >= (select closes_per_signal from needed)
    )

),

sparse_history as (

    select live_closes.date, live_closes.symbol, live_closes.close
    from {{ stored }} as live_closes
    cross join update_window
    where live_closes.run_id = update_window.run_id
      and live_closes.date < update_window.lookback_start
      and live_closes.symbol in (select symbol from sparse_symbols)
    qualify row_number() over (partition by live_closes.symbol order by live_closes.date desc)
        <= (select closes_per_signal + lookback_sessions from needed)

),

final as (

    select * from sparse_history
    union all
    select * from stored_lookback
    union all
    select * from new_closes

)

{%- else %}

final as (

    select file_closes.date, file_closes.symbol, file_closes.close,
    from file_closes

)

{%- endif %}

select * from final
