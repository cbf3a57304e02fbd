with prices as (

    select * from {{ ref('stg_market__closes') }}

),

session_dates as (

    select distinct date from prices

),

final as (

    select
        date,
        row_number() over (order by date) as session_index,
    from session_dates

)

select * from final
