{#- One row: a fingerprint of each input file's rows as read, whatever their
    order. Built by every run, also a scaled run that reads its baseline's
    layers, so the registry can tell whether two runs saw the same data. -#}
-- read only once the gate has checked every file path
-- depends_on: {{ ref('stg_run_config') }}
with prices as (

    select {{ allocator.fingerprint_rows('file') }} as fingerprint
    from {{ source('market_data', 'prices') }} as file

),

benchmark as (

    select {{ allocator.fingerprint_rows('file') }} as fingerprint
    from {{ source('market_data', 'benchmark') }} as file

),

weights as (

    select {{ allocator.fingerprint_rows('file') }} as fingerprint
    from {{ source('portfolio_inputs', 'weights') }} as file

),

portfolio_returns as (

    select {{ allocator.fingerprint_rows('file') }} as fingerprint
    from {{ source('portfolio_inputs', 'returns') }} as file

),

final as (

    select
        prices.fingerprint as prices_fingerprint,
        benchmark.fingerprint as benchmark_fingerprint,
        weights.fingerprint as weights_fingerprint,
        portfolio_returns.fingerprint as portfolio_returns_fingerprint,
        md5(
            prices.fingerprint || '|' || weights.fingerprint || '|' || portfolio_returns.fingerprint
        ) as input_fingerprint,
    from prices
    cross join benchmark
    cross join weights
    cross join portfolio_returns

)

select * from final
