{#-
    The three controls of the two-pass audit, one row per (run, control),
    with the parameter of each exposure:
      mean_scalar  (a) a constant exposure equal to the governor's mean scalar
                   over the run's sessions;
      vol_matched  (b) a constant exposure c matched to the scaled run's
                   realised vol: c = vol(scaled) / vol(whole), whole = the
                   book at exposure 1 priced as every control is. A constant
                   exposure scales every position, so every trade and cost,
                   by c: its net return is c x the whole book's, and this c
                   matches the vol without a solver. The whole book is the
                   unscaled book, except on the first session of a window
                   that opens inside a holding period, where the shared
                   pricing buys the book from cash and the unscaled book
                   does not;
      vol_target   (c) min(1, k / rv20), k bisected so its realised vol equals
                   the scaled run's (controls_vol_target_k); null when no k
                   in [0, max rv20] reaches it.
-#}
{%- set books = allocator.control_books() -%}

with run_config as (

    select * from {{ ref('stg_run_config') }}

),

sessions as (

    select * from {{ ref('int_controls__sessions') }}

),

unscaled as (

    select * from {{ ref('portfolio_returns_unscaled') }}

),

weights as (

    select * from {{ ref('weights_raw') }}

),

vol_target as (

    select * from {{ ref('controls_vol_target_k') }}

),

whole_book_exposures as (

    select
        'whole' as book,
        date,
        held_rebalance_date,
        1.0 as exposure,
    from sessions

),

{{ allocator.price_exposure('whole_book_exposures', 'unscaled', 'weights', 'run_config', ['book']) }},

whole_book as (

    select stddev_samp(net_return) as daily_vol,
    from priced_exposure

),

governor as (

    select
        avg(sessions.governor_exposure) as mean_scalar,
        stddev_samp(sessions.governor_net_return) / nullif(any_value(whole_book.daily_vol), 0) as vol_ratio,
    from sessions
    cross join whole_book

),

parameters as (

    select 'mean_scalar' as control, 'constant' as exposure_rule, governor.mean_scalar as exposure_parameter,
    from governor
    union all
    select 'vol_matched', 'constant', governor.vol_ratio,
    from governor
    union all
    select 'vol_target', 'vol_target', vol_target.vol_target_k,
    from vol_target

),

final as (

    select
        run_config.run_id,
        case parameters.control
            {%- for book in books %}
            when '{{ book.book }}' then {{ book.order }}
            {%- endfor %}
        end as control_order,
        parameters.control,
        case parameters.control
            {%- for book in books %}
            when '{{ book.book }}' then {{ allocator.sql_literal(book.label) }}
            {%- endfor %}
        end as control_label,
        parameters.exposure_rule,
        parameters.exposure_parameter,
    from parameters
    cross join run_config

)

select * from final
