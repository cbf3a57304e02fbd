{#-
    The three controls of the two-pass audit, one row per (run, control),
    with the parameter of each exposure:
      mean_scalar  (a) a constant exposure equal to the governor's mean scalar
                   over the run's sessions;
      vol_matched  (b) a constant exposure c matched to the scaled run's
                   realised vol: c = vol(scaled) / vol(unscaled). A constant
                   exposure scales every position, so every trade and cost,
                   by c: its net return is exactly c x the unscaled book's,
                   and this c matches the vol without a solver;
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

vol_target as (

    select * from {{ ref('controls_vol_target_k') }}

),

governor as (

    select
        avg(governor_exposure) as mean_scalar,
        stddev_samp(governor_net_return) / nullif(stddev_samp(unscaled_net_return), 0) as vol_ratio,
    from sessions

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
