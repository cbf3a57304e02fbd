{#- Shared definitions of the two-pass controls (models/controls). -#}

{#- The exposure of the vol-target control (c) for scale k and the unscaled
    book's 20-day vol rvol: min(1, k / rvol), never above the book's own
    exposure; 1 when rvol is 0; null when rvol is unknown (the caller fills
    it as the governor fills a missing scalar). The same rule as
    allocator.controls.vol_target_exposure, which solves k. -#}
{% macro vol_target_exposure(k, rvol) -%}
    case
        when {{ rvol }} > 0 then least(1.0, {{ k }} / {{ rvol }})
        when {{ rvol }} = 0 then 1.0
    end
{%- endmacro %}


{#- The books of the controls table: key, display order and label. -#}
{% macro control_books() -%}
    {{ return([
        {'book': 'baseline', 'order': 1, 'label': 'baseline (unscaled book)'},
        {'book': 'governor', 'order': 2, 'label': 'governor (scaled run)'},
        {'book': 'mean_scalar', 'order': 3, 'label': "(a) constant at the governor's mean scalar"},
        {'book': 'vol_matched', 'order': 4, 'label': "(b) constant at the scaled run's vol"},
        {'book': 'vol_target', 'order': 5, 'label': '(c) vol target min(1, k / rv20)'},
    ]) }}
{%- endmacro %}


{#- timing_skill from the number of controls (b) and (c) the governor beats
    strictly on both MaxDD and Sharpe (null: a control or the governor is not
    measurable): a leverage cut at the same vol is the bar. -#}
{% macro timing_skill_status(controls_beaten) -%}
    case
        when {{ controls_beaten }} is null then 'warning'
        when {{ controls_beaten }} = 2 then 'good'
        when {{ controls_beaten }} = 1 then 'warning'
        else 'failure'
    end
{%- endmacro %}
