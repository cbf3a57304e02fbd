{#-
    One row per tuning_id: what was tried, what was chosen, and whether it
    holds out of sample. The walk-forward's stitched out-of-sample book
    beside the in-sample best (chosen with hindsight), the defaults and the
    baseline's unscaled book, all over the same out-of-sample sessions; the
    deflated Sharpe of the chosen configuration and the PBO of the sweep.
-#}
with tuning_config as (

    select * from {{ ref('stg_tuning_config') }}

),

configurations as (

    select * from {{ ref('tuning_configurations') }}

),

folds as (

    select * from {{ ref('tuning_walk_forward') }}

),

book_metrics as (

    select * from {{ ref('tuning_book_metrics') }}

),

selection_bias as (

    select * from {{ ref('tuning_selection_bias') }}

),

counts as (

    select
        count(*) as configurations,
        count(case when is_admissible then 1 end) as admissible_configurations,
        max(case when is_chosen then config_id end) as chosen_config_id,
        max(case when is_chosen then cagr end) as chosen_cagr,
        max(case when is_chosen then sharpe end) as chosen_sharpe,
        max(case when is_chosen then max_drawdown end) as chosen_max_drawdown,
        max(case when is_chosen then calmar end) as chosen_calmar,
        max(case when is_default then cagr end) as default_cagr,
        max(case when is_default then sharpe end) as default_sharpe,
        max(case when is_default then max_drawdown end) as default_max_drawdown,
        max(case when is_default then calmar end) as default_calmar,
        bool_or(is_default and is_admissible) as default_is_admissible,
    from configurations

),

fold_counts as (

    select
        count(*) as folds,
        count(case when chosen_config_id <> 0 then 1 end) as folds_away_from_defaults,
        count(distinct chosen_config_id) as distinct_configurations_chosen,
    from folds

),

books as (

    select
        {%- for book in ['walk_forward', 'in_sample_best', 'defaults', 'baseline_unscaled'] %}
        max(case when book = '{{ book }}' then cagr end) as {{ book }}_oos_cagr,
        max(case when book = '{{ book }}' then sharpe end) as {{ book }}_oos_sharpe,
        max(case when book = '{{ book }}' then max_drawdown end) as {{ book }}_oos_max_drawdown,
        max(case when book = '{{ book }}' then calmar end) as {{ book }}_oos_calmar,
        {%- endfor %}
        min(first_date) as oos_start,
        max(last_date) as oos_end,
    from book_metrics

),

final as (

    select
        tuning_config.tuning_id,
        tuning_config.baseline_run_id,
        tuning_config.grid_path,
        tuning_config.objective,
        tuning_config.min_sharpe,
        counts.configurations,
        counts.admissible_configurations,
        counts.default_is_admissible,
        counts.chosen_config_id,
        counts.chosen_cagr,
        counts.chosen_sharpe,
        counts.chosen_max_drawdown,
        counts.chosen_calmar,
        counts.default_cagr,
        counts.default_sharpe,
        counts.default_max_drawdown,
        counts.default_calmar,
        fold_counts.folds,
        fold_counts.folds_away_from_defaults,
        fold_counts.distinct_configurations_chosen,
        books.oos_start,
        books.oos_end,
        {%- for book in ['walk_forward', 'in_sample_best', 'defaults', 'baseline_unscaled'] %}
        books.{{ book }}_oos_cagr,
        books.{{ book }}_oos_sharpe,
        books.{{ book }}_oos_max_drawdown,
        books.{{ book }}_oos_calmar,
        {%- endfor %}
        selection_bias.deflated_sharpe,
        selection_bias.chosen_daily_sharpe,
        selection_bias.expected_max_daily_sharpe,
        selection_bias.sharpe_variance,
        selection_bias.pbo,
        selection_bias.pbo_splits,
    from tuning_config
    cross join counts
    cross join fold_counts
    cross join books
    cross join selection_bias

)

select * from final
