with prices as (

    select * from {{ ref('stg_market__closes') }}

),

sessions as (

    select * from {{ ref('stg_market__sessions') }}

),

{{ allocator.returns_from_closes('prices', 'sessions') }},

final as (

    select
        date,
        symbol,
        close,
        previous_date,
        previous_close,
        simple_return,
        missed_sessions,
        is_gap_return,
    from simple_returns

)

select * from final
