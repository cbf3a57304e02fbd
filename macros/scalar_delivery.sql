{#-
    The one definition of cadence delivery: for each session of the book,
    the close at which the scalar it holds was decided, under each cadence
    (allocator_v1.cadence):
      rebalance_lagged  the seeds': decided at the recorded rebalance before
                        the held one;
      rebalance         decided at the held rebalance's own close;
      daily             decided at the previous session's close.
    A returns-only book holds the previous session's position: every session
    is its own rebalance. A session whose held rebalance is not a recorded
    one has no decision close under the rebalance cadences (its scalar is
    apply_missing_scalar_as). allocator_scalars_daily applies the run's
    cadence; the tuning's sessions carry all three, so that a sweep
    (python/allocator/tuning.py) delivers every configuration's scalar by
    this rule.

    sessions: date, held_rebalance_date (null on a returns-only session);
    rebalances: rebalance_date, the recorded rebalances the scalars were
    lagged over. Produces CTEs ending in `scalar_decisions`: date,
    held_rebalance_date, decided_at_rebalance_lagged, decided_at_rebalance,
    decided_at_daily.
-#}
{% macro scalar_decisions(sessions, rebalances) %}
    decision_held as (

    select
        date,
        coalesce(held_rebalance_date, lag(date) over (order by date)) as held_rebalance_date,
        lag(date) over (order by date) as previous_date,
    from {{ sessions }}

),

decision_rebalances as (

    select
        rebalance_date,
        lag(rebalance_date) over (order by rebalance_date) as previous_rebalance_date,
    from {{ rebalances }}

),

scalar_decisions as (

    select
        decision_held.date,
        decision_held.held_rebalance_date,
        decision_rebalances.previous_rebalance_date as decided_at_rebalance_lagged,
        decision_rebalances.rebalance_date as decided_at_rebalance,
        decision_held.previous_date as decided_at_daily,
    from decision_held
    left join decision_rebalances
        on decision_held.held_rebalance_date = decision_rebalances.rebalance_date

)
{%- endmacro %}


{#-
    The run's cadence applied to a row of scalar_decisions (`decisions`):
    the close its scalar was decided at, and the scalar the book holds. In
    mode off the book is not scaled (1.0); where no scalar was decided (before
    the series starts, or a held rebalance that is not a recorded one) it is
    apply_missing_scalar_as. `risk_scalar`: the risk scalar at the decision's
    decided_at_daily close; `rebalance_scalar_used`: the scalar used at its
    held rebalance (allocator_scalars_at_rebalances). Used by
    allocator_scalars_daily (every session of a run) and next_session_targets
    (the session after its last close).
-#}
{% macro cadence_decided_at(run_config, decisions) -%}
    case {{ run_config }}.cadence
        when 'rebalance_lagged' then {{ decisions }}.decided_at_rebalance_lagged
        when 'rebalance' then {{ decisions }}.decided_at_rebalance
        else {{ decisions }}.decided_at_daily
    end
{%- endmacro %}


{% macro cadence_scalar(run_config, risk_scalar, rebalance_scalar_used) -%}
    case
        when {{ run_config }}.allocator_mode = 'off' then 1.0
        when {{ run_config }}.cadence = 'daily'
            then coalesce({{ risk_scalar }}, {{ run_config }}.apply_missing_scalar_as)
        else coalesce({{ rebalance_scalar_used }}, {{ run_config }}.apply_missing_scalar_as)
    end
{%- endmacro %}
