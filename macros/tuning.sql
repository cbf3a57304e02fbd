{#- Stage 7 tuning: the behaviour a configuration must show to be admissible,
    as {level: [target share, tolerance]} (the seeds' plan: roughly 70 / 20 /
    8 / 2% of classified days), and the other constraints. One definition,
    read by tuning_configurations and tuning_walk_forward. -#}
{% macro tuning_regime_share_targets() -%}
    {{ return({'NORMAL': [0.70, 0.10], 'ELEVATED': [0.20, 0.10], 'STRESS': [0.08, 0.05], 'CRISIS': [0.02, 0.02]}) }}
{%- endmacro %}

{#- Regime changes a year a configuration must stay under. -#}
{% macro tuning_max_transitions_per_year() -%}
    {{ return(20) }}
{%- endmacro %}

{#- Share of calendar months with a STRESS or CRISIS day it must not exceed. -#}
{% macro tuning_max_share_months_flagged() -%}
    {{ return(0.35) }}
{%- endmacro %}


{#- True where the shares, transitions and flagged months of a row meet the
    constraints (columns share_normal .. share_crisis, transitions_per_year,
    share_months_flagged). -#}
{% macro tuning_meets_constraints(prefix='') -%}
    {%- for level, target in allocator.tuning_regime_share_targets().items() -%}
    abs({{ prefix }}share_{{ level | lower }} - {{ target[0] }}) <= {{ target[1] }}
    and {% endfor -%}
    {{ prefix }}transitions_per_year < {{ allocator.tuning_max_transitions_per_year() }}
    and {{ prefix }}share_months_flagged <= {{ allocator.tuning_max_share_months_flagged() }}
{%- endmacro %}


{#- The whole-sample constraint on timing: a configuration whose governor
    beats neither control at its own vol, (b) nor (c), on both MaxDD and
    Sharpe (timing_skill failure) is a leverage cut, not a governor. The
    walk-forward's training windows do not apply it: the controls are
    measured on the whole sample, which would leak the test years. -#}
{% macro tuning_meets_timing_skill(prefix='') -%}
    {{ prefix }}timing_skill <> 'failure'
{%- endmacro %}


{#- The objective to maximise, from a row's cagr, max_drawdown and sharpe:
    calmar (CAGR / |MaxDD|), sharpe, or maxdd (the shallowest drawdown; the
    minimum Sharpe is a constraint of its own, tuning_meets_min_sharpe). -#}
{% macro tuning_objective_score(objective_column, prefix='') -%}
    case {{ objective_column }}
        when 'calmar' then {{ prefix }}cagr / nullif(abs({{ prefix }}max_drawdown), 0)
        when 'sharpe' then {{ prefix }}sharpe
        when 'maxdd' then {{ prefix }}max_drawdown
    end
{%- endmacro %}


{#- The objective maxdd only counts configurations with at least the
    required Sharpe; the others never fail it. -#}
{% macro tuning_meets_min_sharpe(objective_column, min_sharpe_column, prefix='') -%}
    ({{ objective_column }} <> 'maxdd' or coalesce({{ prefix }}sharpe >= {{ min_sharpe_column }}, false))
{%- endmacro %}
