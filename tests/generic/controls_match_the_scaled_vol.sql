{#- The controls matched to the scaled run's vol, (b) vol_matched and (c)
    vol_target, have its realised vol (relative tolerance 1e-9): (b) by
    construction, (c) through the Python bisection, which this also checks
    against the SQL pricing. Fails with a row per control that misses. -#}
{% test controls_match_the_scaled_vol(model) %}

with controls as (

    select control, stddev_samp(net_return) as daily_vol,
    from {{ model }}
    where control in ('vol_matched', 'vol_target')
    group by control

),

scaled as (

    select stddev_samp(net_return) as daily_vol,
    from {{ ref('portfolio_returns_scaled') }}

)

select controls.control, controls.daily_vol, scaled.daily_vol as scaled_daily_vol,
from controls
cross join scaled
where abs(controls.daily_vol - scaled.daily_vol) > 1e-9 * scaled.daily_vol

{% endtest %}
