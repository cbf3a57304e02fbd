{#-
    How often the regime cried wolf in every paired scaled run, as the
    governor study counts it: the share of calendar months with at least one
    STRESS/CRISIS day, and the alarm spells (maximal runs of STRESS/CRISIS
    days) whose first 40 sessions (the first day and the next 39) never saw
    the baseline 5% or more below its running peak: false alarms. A stricter
    reading counts the spells without a fresh loss of 5%, peak to trough
    inside those sessions from the spell's first close (what de-risking at
    the alarm could have avoided). The regime series is the scaled run's,
    measured on the unscaled book (the baseline's).
-#}
{%- set settings = allocator.two_pass_alarm_settings() -%}
{%- set threshold = allocator.two_pass_flag_thresholds().stress_drawdown -%}

with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

portfolio_returns as (

    select * from {{ ref('portfolio_returns') }}

),

regimes as (

    select * from {{ ref('allocator_regime_v1') }}

),

sessions as (

    -- the baseline's book is the scaled run's unscaled book
    select
        pairs.scaled_run_id,
        portfolio_returns.date,
        portfolio_returns.drawdown_unscaled as drawdown,
        portfolio_returns.equity_unscaled as equity,
        row_number() over ({{ allocator.two_pass_run_sequence() }}) as session_number,
    from pairs
    inner join portfolio_returns
        on pairs.scaled_run_id = portfolio_returns.run_id

),

regime_days as (

    select
        pairs.scaled_run_id,
        regimes.date,
        {{ dbt.date_trunc('month', 'regimes.date') }} as month_start,
        regimes.regime_level >= {{ settings.alarm_regime_level }} as is_alarm,
    from pairs
    inner join regimes
        on pairs.scaled_run_id = regimes.run_id
    -- warm-up days carry no regime yet
    where regimes.regime is not null

),

months as (

    select
        scaled_run_id,
        month_start,
        bool_or(is_alarm) as has_alarm,
    from regime_days
    group by scaled_run_id, month_start

),

month_counts as (

    select
        scaled_run_id,
        count(*) as months_total,
        count(*) filter (where has_alarm) as months_with_alarm,
    from months
    group by scaled_run_id

),

islands as (

    -- consecutive days on one side of the alarm share this difference of
    -- row numbers
    select
        scaled_run_id,
        date,
        is_alarm,
        row_number() over ({{ allocator.two_pass_run_sequence() }})
            - row_number() over ({{ allocator.two_pass_run_sequence(partition_columns=['scaled_run_id', 'is_alarm']) }}) as island,
    from regime_days

),

spells as (

    select
        scaled_run_id,
        island,
        min(date) as spell_start_date,
        max(date) as spell_end_date,
        count(*) as spell_sessions,
    from islands
    where is_alarm
    group by scaled_run_id, island

),

horizons as (

    -- the baseline's deepest drawdown from its running peak over the
    -- sessions that follow each date, the date included
    select
        scaled_run_id,
        date,
        session_number,
        min(drawdown) over (
            {{ allocator.two_pass_run_sequence() }} {{ allocator.leading_rows(settings.alarm_horizon_sessions) }}
        ) as horizon_drawdown,
    from sessions

),

spell_outcomes as (

    select
        spells.scaled_run_id,
        spells.spell_start_date,
        spells.spell_end_date,
        spells.spell_sessions,
        horizons.session_number as start_session_number,
        horizons.horizon_drawdown,
    from spells
    inner join horizons
        on spells.scaled_run_id = horizons.scaled_run_id
        and spells.spell_start_date = horizons.date

),

fresh_paths as (

    -- the baseline's wealth over each spell's horizon against its high since
    -- the spell's first close
    select
        spell_outcomes.scaled_run_id,
        spell_outcomes.spell_start_date,
        sessions.equity / max(sessions.equity) over (
            partition by spell_outcomes.scaled_run_id, spell_outcomes.spell_start_date
            order by sessions.date {{ allocator.running_rows() }}
        ) - 1 as fresh_drawdown,
    from spell_outcomes
    inner join sessions
        on spell_outcomes.scaled_run_id = sessions.scaled_run_id
        and sessions.session_number
            between spell_outcomes.start_session_number
            and spell_outcomes.start_session_number + {{ settings.alarm_horizon_sessions }} - 1

),

fresh_losses as (

    select
        scaled_run_id,
        spell_start_date,
        min(fresh_drawdown) as fresh_loss,
    from fresh_paths
    group by scaled_run_id, spell_start_date

),

longest_spells as (

    -- the longest spell, the first of equally long ones: a governor stuck
    -- de-risked shows here, whatever its transitions and alarms say
    select
        scaled_run_id,
        spell_sessions as longest_spell_sessions,
        spell_start_date as longest_spell_start_date,
        spell_end_date as longest_spell_end_date,
    from (
        select
            *,
            row_number() over (partition by scaled_run_id order by spell_sessions desc, spell_start_date) as spell_rank,
        from spells
    ) as ranked
    where spell_rank = 1

),

spell_summary as (

    select
        spell_outcomes.scaled_run_id,
        count(*) as alarm_spells,
        median(spell_outcomes.spell_sessions) as median_spell_sessions,
        count(*) filter (where spell_outcomes.horizon_drawdown > {{ threshold }}) as spells_not_followed,
        count(*) filter (where fresh_losses.fresh_loss > {{ threshold }}) as spells_without_fresh_loss,
    from spell_outcomes
    inner join fresh_losses
        on spell_outcomes.scaled_run_id = fresh_losses.scaled_run_id
        and spell_outcomes.spell_start_date = fresh_losses.spell_start_date
    group by spell_outcomes.scaled_run_id

),

final as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        cast({{ settings.alarm_horizon_sessions }} as {{ dbt.type_int() }}) as alarm_horizon_sessions,
        cast({{ threshold }} as {{ dbt.type_float() }}) as drawdown_threshold,
        cast(coalesce(month_counts.months_total, 0) as {{ dbt.type_bigint() }}) as months_total,
        cast(coalesce(month_counts.months_with_alarm, 0) as {{ dbt.type_bigint() }}) as months_with_alarm,
        cast(month_counts.months_with_alarm as {{ dbt.type_float() }}) / nullif(month_counts.months_total, 0) as alarm_month_share,
        cast(coalesce(spell_summary.alarm_spells, 0) as {{ dbt.type_bigint() }}) as alarm_spells,
        cast(spell_summary.median_spell_sessions as {{ dbt.type_float() }}) as median_spell_sessions,
        cast(coalesce(spell_summary.spells_not_followed, 0) as {{ dbt.type_bigint() }}) as false_alarm_spells,
        cast(spell_summary.spells_not_followed as {{ dbt.type_float() }}) / nullif(spell_summary.alarm_spells, 0) as false_alarm_share,
        cast(coalesce(spell_summary.spells_without_fresh_loss, 0) as {{ dbt.type_bigint() }}) as spells_without_fresh_loss,
        cast(spell_summary.spells_without_fresh_loss as {{ dbt.type_float() }}) / nullif(spell_summary.alarm_spells, 0) as no_fresh_loss_share,
        cast(coalesce(longest_spells.longest_spell_sessions, 0) as {{ dbt.type_bigint() }}) as longest_spell_sessions,
        longest_spells.longest_spell_start_date,
        longest_spells.longest_spell_end_date,
    from pairs
    left join month_counts
        on pairs.scaled_run_id = month_counts.scaled_run_id
    left join spell_summary
        on pairs.scaled_run_id = spell_summary.scaled_run_id
    left join longest_spells
        on pairs.scaled_run_id = longest_spells.scaled_run_id

)

select * from final
