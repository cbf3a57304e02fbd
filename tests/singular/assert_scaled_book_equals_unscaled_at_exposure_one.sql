-- Where the scaled book holds the whole book (exposure 1 this session and the
-- one before, or on its first session) it is the unscaled book, costs
-- included: the shared pricing (macros/price_exposure.sql) adds nothing of
-- its own, also when the window opens inside a holding period.
with scaled as (

    select * from {{ ref('portfolio_returns_scaled') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

scaled_with_previous as (

    select
        *,
        lag(risk_scalar_used) over (partition by run_id order by date) as previous_scalar_used,
    from scaled

),

final as (

    select
        scaled_with_previous.run_id,
        scaled_with_previous.date,
        scaled_with_previous.net_return as scaled_net_return,
        unscaled.net_return as unscaled_net_return,
    from scaled_with_previous
    inner join unscaled
        on scaled_with_previous.date = unscaled.date
    where scaled_with_previous.risk_scalar_used = 1
        and coalesce(scaled_with_previous.previous_scalar_used, 1) = 1
        and abs(scaled_with_previous.net_return - unscaled.net_return) > 1e-12

)

select * from final
