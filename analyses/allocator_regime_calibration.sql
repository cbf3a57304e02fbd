{#-
    Calibration figures of the regime rules for one run (var run_id, default
    the demo run), the targets of the issue in brackets:
      share of classified dates per regime (~70 / 20 / 8 / 2 %),
      regime changes per year (< 20; a year = 252 classified dates),
      the regime mix of Q4 2008 and of March 2020 (STRESS or CRISIS).
    Run it with
      dbt compile --select allocator_regime_calibration --vars '{run_id: demo_base}'
    and execute target/compiled/allocator/analyses/allocator_regime_calibration.sql
    on the database (e.g. duckdb allocator.duckdb < that file); one row per figure.
-#}
with regimes as (

    -- the published run named by var run_id
    select * from artifacts.allocator_regime_v1
    where run_id = {{ allocator.sql_literal(allocator.run_var('run_id', 'demo_base')) }}

),

totals as (

    select
        count(*) as classified_dates,
        count(case when regime_changed then 1 end) as regime_changes,
    from regimes

),

shares as (

    select
        'share_' || lower(regimes.regime) as figure,
        count(*) * 1.0 / max(totals.classified_dates) as value,
        case regimes.regime
            when 'NORMAL' then 0.70 when 'ELEVATED' then 0.20 when 'STRESS' then 0.08 when 'CRISIS' then 0.02
        end as target,
    from regimes
    cross join totals
    group by regimes.regime

),

transitions as (

    select
        'regime_changes_per_year' as figure,
        regime_changes * 252.0 / nullif(classified_dates, 0) as value,
        20.0 as target,
    from totals

),

stress_windows as (

    select
        windows.figure,
        avg(case when regimes.regime in ('STRESS', 'CRISIS') then 1.0 else 0.0 end) as value,
        1.0 as target,
    from regimes
    inner join (
        values
            ('stress_or_crisis_share_2008_q4', cast('2008-10-01' as date), cast('2008-12-31' as date)),
            ('stress_or_crisis_share_2020_03', cast('2020-03-01' as date), cast('2020-03-31' as date))
    ) as windows (figure, first_date, last_date)
        on regimes.date between windows.first_date and windows.last_date
    group by windows.figure

),

final as (

    select * from shares
    union all
    select * from transitions
    union all
    select * from stress_windows

)

select * from final
order by figure
