{#-
    Baseline against scaled, one row per (scaled run, metric): the tidy form
    of the comparison's performance table. Values are run_metrics' (empyrical
    conventions); delta = scaled - baseline, so a positive delta on MaxDD,
    worst month or worst quarter is a shallower loss.
-#}
{%- set metrics = allocator.two_pass_metric_list() -%}

with pairs as (

    select * from {{ ref('two_pass_pairs') }}

),

run_metrics as (

    select * from {{ ref('run_metrics') }}

),

portfolio as (

    select * from {{ ref('portfolio_returns') }}

),

risk_free_rates as (

    select * from {{ ref('stg_run__risk_free_rates') }}

),

daily as (

    {{ allocator.with_risk_free_return('portfolio', 'risk_free_rates') }}

),

-- the baseline's book is the scaled run's unscaled book (two_pass_pairs
-- checks that both saw the same configuration and data)
{{ allocator.book_metrics('daily', 'portfolio_return_unscaled', 'drawdown_unscaled', risk_free_column='risk_free_return') }},

paired_metrics as (

    select
        pairs.scaled_run_id,
        pairs.baseline_run_id,
        {%- for metric in metrics %}
        baseline_metrics.{{ metric.metric }} as baseline_{{ metric.metric }},
        scaled_metrics.{{ metric.metric }} as scaled_{{ metric.metric }},
        {%- endfor %}
    from pairs
    inner join metrics as baseline_metrics
        on pairs.scaled_run_id = baseline_metrics.run_id
    inner join run_metrics as scaled_metrics
        on pairs.scaled_run_id = scaled_metrics.run_id

),

-- unpivot by hand (portable SQL): one select per metric
metric_rows as (

    {%- for metric in metrics %}
    select
        scaled_run_id,
        baseline_run_id,
        {{ loop.index }} as metric_order,
        '{{ metric.metric }}' as metric,
        '{{ metric.label }}' as metric_label,
        '{{ metric.unit }}' as unit,
        baseline_{{ metric.metric }} as baseline,
        scaled_{{ metric.metric }} as scaled,
    from paired_metrics
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select
        scaled_run_id,
        baseline_run_id,
        metric_order,
        metric,
        metric_label,
        unit,
        baseline,
        scaled,
        scaled - baseline as delta,
    from metric_rows

)

select * from final
