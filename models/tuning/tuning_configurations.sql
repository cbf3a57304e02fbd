{#-
    One row per (tuning_id, configuration): its settings, its metrics and
    behaviour over the whole sample, whether it meets every constraint
    (macros/tuning.sql), its objective score and rank. The chosen
    configuration is the admissible one with the best score (ties: the
    lowest config_id); when none is admissible the defaults (config 0) are
    kept, since the sweep found nothing that honours the targets.
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

grid as (

    select * from {{ ref('stg_tuning__grid') }}

),

metrics as (

    select * from {{ ref('tuning_config_metrics') }}

),

scored as (

    select
        tuning_config.tuning_id,
        grid.*,
        metrics.* exclude (config_id),
        metrics.cagr / nullif(abs(metrics.max_drawdown), 0) as calmar,
        {{ allocator.tuning_meets_constraints('metrics.') }}
            and {{ allocator.tuning_meets_min_sharpe('tuning_config.objective', 'tuning_config.min_sharpe', 'metrics.') }} as is_admissible,
        {{ allocator.tuning_objective_score('tuning_config.objective', 'metrics.') }} as objective_score,
    from grid
    inner join metrics
        on grid.config_id = metrics.config_id
    cross join tuning_config

),

ranked as (

    select
        *,
        row_number() over (order by is_admissible desc, objective_score desc nulls last, config_id) as objective_rank,
    from scored

),

chosen as (

    select coalesce(min(case when objective_rank = 1 and is_admissible then config_id end), 0) as config_id,
    from ranked

),

final as (

    select
        ranked.tuning_id,
        ranked.config_id,
        ranked.is_default,
        ranked.config_id = chosen.config_id as is_chosen,
        ranked.elevated_multiplier,
        ranked.stress_multiplier,
        ranked.crisis_multiplier,
        ranked.min_days,
        ranked.target_normal,
        ranked.target_elevated,
        ranked.target_stress,
        ranked.target_crisis,
        ranked.alpha,
        ranked.floor,
        ranked.cap,
        ranked.cadence,
        ranked.return_days,
        ranked.cagr,
        ranked.ann_vol,
        ranked.sharpe,
        ranked.max_drawdown,
        ranked.worst_month,
        ranked.worst_quarter,
        ranked.calmar,
        ranked.share_normal,
        ranked.share_elevated,
        ranked.share_stress,
        ranked.share_crisis,
        ranked.transitions_per_year,
        ranked.share_months_flagged,
        ranked.mean_scalar,
        ranked.turnover_per_year,
        ranked.is_admissible,
        ranked.objective_score,
        ranked.objective_rank,
    from ranked
    cross join chosen

)

select * from final
