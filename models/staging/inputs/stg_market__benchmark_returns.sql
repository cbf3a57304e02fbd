-- read only once the gate has checked the path
-- depends_on: {{ ref('stg_run_config') }}
{%- if allocator.run_var('benchmark_path') %}
{{ allocator.assert_valid_input(
    source('market_data', 'benchmark'), allocator.run_var('benchmark_path'), 'benchmark',
    required_columns=['date', 'symbol', 'close'],
    key_columns=['date', 'symbol'],
    value_column='close',
    value_rule='positive',
) }}
{%- endif %}

with source as (

    select * from {{ source('market_data', 'benchmark') }}

),

sessions as (

    select * from {{ ref('stg_market__sessions') }}

),

closes as (

    select
        {{ allocator.parse_date_text('cast(date as ' ~ dbt.type_string() ~ ')') }} as date,
        trim(cast(symbol as {{ dbt.type_string() }})) as symbol,
        {{ dbt.safe_cast('close', dbt.type_float()) }} as close,
    from source

),

valid_closes as (

    select * from closes where close is not null and not isnan(close)

),

{{ allocator.returns_from_closes('valid_closes', 'sessions') }},

final as (

    select
        date,
        symbol,
        close,
        simple_return,
        is_gap_return,
    from simple_returns

)

select * from final
