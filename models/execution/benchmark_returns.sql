{#- The benchmark on the book's calendar, one row per session from start to
    end: its daily return, wealth and drawdown on the same conventions as the
    book's, so the tear sheet and the risk metrics compare like with like.
    A run's own artifact (tag unscaled) so a scaled run reading its baseline's
    layers links it instead of re-reading the file. Empty without a benchmark. -#}
{#- incremental: a live update computes only its new rows from this layer's stored ones (macros/live_update.sql) -#}
{{ config(materialized='incremental') }}
with run_config as (

    select * from {{ ref('stg_run_config') }}

),

benchmark as (

    select * from {{ ref('stg_market__benchmark_returns') }}

),

in_window as (

    select
        run_config.run_id,
        benchmark.date,
        benchmark.symbol as benchmark_symbol,
        benchmark.simple_return as benchmark_return,
    from benchmark
    cross join run_config
    where
        benchmark.date between run_config.start_date and run_config.end_date
        and benchmark.simple_return is not null
        {%- if is_incremental() %}
        -- a live update: the new sessions, after the stored ones (below)
        and benchmark.date >= (select live_cut from {{ ref('stg_live__update') }})
    union all
    select run_id, date, benchmark_symbol, benchmark_return,
    from {{ this }}
        {%- endif %}

),

with_equity as (

    select
        *,
        -- wealth starts at 1.0 before the first return, as the book's does
        exp(sum(ln(1 + benchmark_return)) over (order by date rows between unbounded preceding and current row)) as benchmark_equity,
    from in_window

),

final as (

    select
        run_id,
        date,
        benchmark_symbol,
        benchmark_return,
        benchmark_equity,
        benchmark_equity / greatest(1.0, max(benchmark_equity) over (order by date rows between unbounded preceding and current row)) - 1 as benchmark_drawdown,
    from with_equity

)

select * from final
{{ allocator.live_new_rows('date') }}
