{#-
    One row per (tuning_id, configuration): its settings, its metrics and
    behaviour over the whole sample, the two-pass audit's controls at its
    vol ((b) constant, (c) vol target: tuning_config_controls) and its
    timing_skill, whether it meets every constraint (macros/tuning.sql), its
    objective score and rank. The chosen
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

controls as (

    select * from {{ ref('tuning_config_controls') }}

),

controls_beaten as (

    -- as the two-pass timing_skill (two_pass_flag_measures): a control counts
    -- when the governor beats it strictly on both MaxDD and Sharpe; null when
    -- a control or the governor is not measurable
    select
        metrics.config_id,
        case
            when metrics.max_drawdown is not null and metrics.sharpe is not null
                and controls.vol_matched_max_drawdown is not null and controls.vol_matched_sharpe is not null
                and controls.vol_target_max_drawdown is not null and controls.vol_target_sharpe is not null
                then
                    case when metrics.max_drawdown > controls.vol_matched_max_drawdown and metrics.sharpe > controls.vol_matched_sharpe then 1 else 0 end
                    + case when metrics.max_drawdown > controls.vol_target_max_drawdown and metrics.sharpe > controls.vol_target_sharpe then 1 else 0 end
        end as controls_beaten,
    from metrics
    inner join controls
        on metrics.config_id = controls.config_id

),

with_timing_skill as (

    select
        metrics.*,
        controls.* exclude (config_id),
        {{ allocator.timing_skill_status('controls_beaten.controls_beaten') }} as timing_skill,
    from metrics
    inner join controls
        on metrics.config_id = controls.config_id
    inner join controls_beaten
        on metrics.config_id = controls_beaten.config_id

),

scored as (

    select
        tuning_config.tuning_id,
        grid.*,
        metrics.* exclude (config_id),
        metrics.cagr / nullif(abs(metrics.max_drawdown), 0) as calmar,
        {{ allocator.tuning_meets_constraints('metrics.') }}
            and {{ allocator.tuning_meets_timing_skill('metrics.') }}
            and {{ allocator.tuning_meets_min_sharpe('tuning_config.objective', 'tuning_config.min_sharpe', 'metrics.') }} as is_admissible,
        {{ allocator.tuning_objective_score('tuning_config.objective', 'metrics.') }} as objective_score,
    from grid
    inner join with_timing_skill as metrics
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
        ranked.sleeve_scalars,
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
        ranked.vol_matched_exposure,
        ranked.vol_target_k,
        ranked.vol_matched_max_drawdown,
        ranked.vol_matched_sharpe,
        ranked.vol_target_max_drawdown,
        ranked.vol_target_sharpe,
        ranked.timing_skill,
        ranked.is_admissible,
        ranked.objective_score,
        ranked.objective_rank,
    from ranked
    cross join chosen

)

select * from final
