{#-
    Average pairwise correlation of the portfolio's symbols (every symbol held
    in weights_raw during the run) over the last 20 and 60 observations, by
    the method the run's universe calls for: exact up to
    correlation_exact_max_symbols held symbols, implied above (each method is
    its own model, and the one not used computes nothing).
-#}
with observations as (

    select * from {{ ref('int_allocator_observations') }}

),

held_symbols as (

    select * from {{ ref('int_allocator_held_symbols') }}

),

exact as (

    select * from {{ ref('int_allocator_correlation_exact') }}

),

implied as (

    select * from {{ ref('int_allocator_correlation_implied') }}

),

method as (

    -- a run without holdings (returns only) has no correlation either way
    select coalesce(max(correlation_method), 'exact') as correlation_method,
    from held_symbols

),

correlations as (

    select * from exact
    union all
    select * from implied

),

final as (

    select
        observations.date,
        correlations.corr_20d,
        correlations.corr_60d,
        coalesce(correlations.corr_20d_pairs, 0) as corr_20d_pairs,
        coalesce(correlations.corr_60d_pairs, 0) as corr_60d_pairs,
        method.correlation_method,
    from observations
    cross join method
    left join correlations
        on observations.date = correlations.date

)

select * from final
