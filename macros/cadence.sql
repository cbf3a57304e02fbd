{#-
    Cadence delivery (allocator_v1.cadence): the scalar the book holds on a
    session and the close it was decided at, from the session's previous
    close and the rebalance it holds. One definition for the sessions of a
    run (allocator_scalars_daily) and for the session after its last one
    (next_session_targets, what a live run's desk trades):
      rebalance_lagged  the scalar used at the held rebalance, decided at
                        the rebalance before it (the seeds');
      rebalance         the scalar used at the held rebalance, decided at
                        its close;
      daily             the risk scalar decided at the previous close.
    In mode off the book is not scaled (1.0); apply_missing_scalar_as
    before the series starts.
-#}
{% macro cadence_scalar(run_config, previous_close_risk_scalar, held_rebalance_scalar_used) -%}
    case
        when {{ run_config }}.allocator_mode = 'off' then 1.0
        when {{ run_config }}.cadence = 'daily'
            then coalesce({{ previous_close_risk_scalar }}, {{ run_config }}.apply_missing_scalar_as)
        else coalesce({{ held_rebalance_scalar_used }}, {{ run_config }}.apply_missing_scalar_as)
    end
{%- endmacro %}


{% macro cadence_decided_at(run_config, previous_close, held_rebalance_date, previous_rebalance_date) -%}
    case {{ run_config }}.cadence
        when 'rebalance_lagged' then {{ previous_rebalance_date }}
        when 'rebalance' then {{ held_rebalance_date }}
        else {{ previous_close }}
    end
{%- endmacro %}
