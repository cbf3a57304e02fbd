-- read only once the gate has checked the path
-- depends_on: {{ ref('stg_run_config') }}
{{ allocator.assert_valid_input(
    source('market_data', 'prices'), allocator.run_var('prices_path'), 'prices',
    required_columns=['date', 'symbol', 'close'],
    key_columns=['date', 'symbol'],
    value_column='close',
    value_rule='positive',
) }}

with source as (

    select * from {{ source('market_data', 'prices') }}

),

typed as (

    select
        {{ allocator.parse_date_text('cast(date as ' ~ dbt.type_string() ~ ')') }} as date,
        trim(cast(symbol as {{ dbt.type_string() }})) as symbol,
        {{ dbt.safe_cast('close', dbt.type_float()) }} as close,
    from source

),

final as (

    -- a missing close (empty, NA, NaN) means the symbol did not trade that day
    select date, symbol, close,
    from typed
    where close is not null and not isnan(close)

)

select * from final
