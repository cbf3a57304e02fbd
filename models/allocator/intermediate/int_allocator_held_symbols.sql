{#- Every symbol the run holds (in weights_raw) and the correlation method
    the universe calls for: exact up to correlation_exact_max_symbols held
    symbols, implied above. The one place the method is decided. -#}
with weights as (

    select * from {{ ref('weights_raw') }}

),

run_config as (

    select * from {{ ref('stg_run_config') }}

),

held as (

    -- a live update also counts what the run held before its new sessions
    select distinct symbol from (
        select symbol from weights
        {{ allocator.live_stored_rows('weights_raw', 'symbol') }}
    ) as held_rows

),

final as (

    select
        held.symbol,
        case
            when (select count(*) from held) <= run_config.correlation_exact_max_symbols
            then 'exact'
            else 'implied'
        end as correlation_method,
    from held
    cross join run_config

)

select * from final
