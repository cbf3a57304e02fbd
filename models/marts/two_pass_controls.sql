{#-
    Is the governor's timing worth anything? One row per (scaled run, book):
    the baseline and the governor (two_pass_metrics) beside three controls
    on the same baseline returns, with the governor's cadence, lag and
    costs (models/controls): (a) a constant exposure at the governor's mean
    scalar, (b) a constant exposure at the scaled run's vol, (c) the vol
    target min(1, k / rv20) at the scaled run's vol. Six metrics each
    (macros/book_metrics.sql), and whether the governor beats the book on
    MaxDD and on Sharpe (strictly), which the timing_skill flag reads.
-#}
{%- set metrics = allocator.two_pass_metric_list() -%}
{%- set books = allocator.control_books() -%}

with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

two_pass_metrics as (

    select * from {{ ref('two_pass_metrics') }}

),

parameters as (

    select * from {{ ref('controls_parameters') }}

),

controls as (

    select * from {{ ref('controls_returns') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

-- the same risk-free rate as the governor's Sharpe (two_pass_metrics)
control_returns as (

    {{ allocator.with_risk_free_return('controls', 'risk_free_rates') }}

),

{{ allocator.book_metrics('control_returns', 'net_return', 'drawdown', ['control'], 'risk_free_return') }},

control_exposures as (

    select control, avg(exposure) as mean_exposure,
    from control_returns
    group by control

),

governor_mean as (

    select exposure_parameter as mean_scalar,
    from parameters
    where control = 'mean_scalar'

),

paired_books as (

    {%- for side in ['baseline', 'scaled'] %}
    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        '{{ 'baseline' if side == 'baseline' else 'governor' }}' as book,
        '{{ 'unscaled' if side == 'baseline' else 'risk_scalar' }}' as exposure_rule,
        cast(null as double) as exposure_parameter,
        {{ '1.0' if side == 'baseline' else '(select mean_scalar from governor_mean)' }} as mean_exposure,
        {%- for metric in metrics %}
        max(case when two_pass_metrics.metric = '{{ metric.metric }}' then two_pass_metrics.{{ side }} end) as {{ metric.metric }},
        {%- endfor %}
    from pairs
    inner join two_pass_metrics
        on pairs.scaled_run_id = two_pass_metrics.scaled_run_id
    group by pairs.scaled_run_id, pairs.baseline_run_id
    union all
    {%- endfor %}
    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        parameters.control as book,
        parameters.exposure_rule,
        parameters.exposure_parameter,
        control_exposures.mean_exposure,
        {%- for metric in metrics %}
        metrics.{{ metric.metric }},
        {%- endfor %}
    from pairs
    cross join parameters
    left join control_exposures
        on parameters.control = control_exposures.control
    left join metrics
        on parameters.control = metrics.control

),

governor as (

    select * from paired_books
    where book = 'governor'

),

final as (

    select
        paired_books.scaled_run_id,
        paired_books.baseline_run_id,
        case paired_books.book
            {%- for book in books %}
            when '{{ book.book }}' then {{ book.order }}
            {%- endfor %}
        end as book_order,
        paired_books.book,
        case paired_books.book
            {%- for book in books %}
            when '{{ book.book }}' then {{ allocator.sql_literal(book.label) }}
            {%- endfor %}
        end as book_label,
        paired_books.exposure_rule,
        paired_books.exposure_parameter,
        paired_books.mean_exposure,
        {%- for metric in metrics %}
        paired_books.{{ metric.metric }},
        {%- endfor %}
        -- strictly better: a tie is no skill
        case when paired_books.book <> 'governor' then governor.max_drawdown > paired_books.max_drawdown end as governor_beats_max_drawdown,
        case when paired_books.book <> 'governor' then governor.sharpe > paired_books.sharpe end as governor_beats_sharpe,
    from paired_books
    inner join governor
        on paired_books.scaled_run_id = governor.scaled_run_id

)

select * from final
