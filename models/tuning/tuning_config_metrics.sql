{#-
    Per configuration over the whole sample: the six audit metrics of its
    net returns (macros/book_metrics.sql, as run_metrics measures a run) and
    its behaviour: regime shares of the classified days, regime changes a
    year, the share of calendar months with a STRESS or CRISIS day, the mean
    scalar and the overlay's turnover a year.
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

sessions as (

    select * from {{ ref('tuning_session_drawdowns') }}

),

daily as (

    select sessions.*, tuning_config.tuning_id as run_id,
    from sessions
    cross join tuning_config

),

{{ allocator.book_metrics('daily', 'net_return', 'drawdown', ['config_id']) }},

classified as (

    select * from sessions where regime_level is not null

),

behaviour as (

    select
        config_id,
        count(*) as classified_days,
        avg(case when regime_level = 0 then 1.0 else 0.0 end) as share_normal,
        avg(case when regime_level = 1 then 1.0 else 0.0 end) as share_elevated,
        avg(case when regime_level = 2 then 1.0 else 0.0 end) as share_stress,
        avg(case when regime_level = 3 then 1.0 else 0.0 end) as share_crisis,
        count(case when regime_level <> previous_level then 1 end) as regime_changes,
        count(distinct date_trunc('month', date)) as months,
        count(distinct case when regime_level >= 2 then date_trunc('month', date) end) as months_flagged,
    from classified
    group by config_id

),

exposure as (

    select
        config_id,
        avg(risk_scalar_used) as mean_scalar,
        avg(turnover) * {{ allocator.sessions_per_year() }} as turnover_per_year,
    from sessions
    group by config_id

),

final as (

    select
        metrics.config_id,
        metrics.return_days,
        metrics.cagr,
        metrics.ann_vol,
        metrics.sharpe,
        metrics.max_drawdown,
        metrics.worst_month,
        metrics.worst_quarter,
        behaviour.classified_days,
        behaviour.share_normal,
        behaviour.share_elevated,
        behaviour.share_stress,
        behaviour.share_crisis,
        behaviour.regime_changes,
        behaviour.regime_changes / (behaviour.classified_days / {{ allocator.sessions_per_year() }}.0) as transitions_per_year,
        behaviour.months_flagged / behaviour.months as share_months_flagged,
        exposure.mean_scalar,
        exposure.turnover_per_year,
    from metrics
    inner join behaviour
        on metrics.config_id = behaviour.config_id
    inner join exposure
        on metrics.config_id = exposure.config_id

)

select * from final
