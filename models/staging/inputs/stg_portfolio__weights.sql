{#- A user's own target weights (var weights_path), validated like prices:
    one row per (date, symbol, sleeve); the sleeve column is optional and
    defaults to 'portfolio' (one sleeve). Empty when no file is set. -#}
-- read only once the gate has checked the path
-- depends_on: {{ ref('stg_run_config') }}
{%- if allocator.run_var('weights_path') %}
{%- set has_sleeve = 'sleeve' in allocator.relation_columns(source('portfolio_inputs', 'weights')) -%}
{{ allocator.assert_valid_input(
    source('portfolio_inputs', 'weights'), allocator.run_var('weights_path'), 'weights',
    required_columns=['date', 'symbol', 'weight'],
    key_columns=['date', 'symbol', 'sleeve'] if has_sleeve else ['date', 'symbol'],
    value_column='weight',
    value_rule='finite',
) }}
{%- endif %}

with source as (

    -- the optional sleeve column (null) when the file has none
    {{ allocator.with_optional_text_column(source('portfolio_inputs', 'weights'), 'sleeve') }}

),

final as (

    select
        {{ allocator.parse_date_text('cast(date as ' ~ dbt.type_string() ~ ')') }} as date,
        trim(cast(symbol as {{ dbt.type_string() }})) as symbol,
        coalesce(nullif(trim(cast(sleeve as {{ dbt.type_string() }})), ''), 'portfolio') as sleeve,
        coalesce({{ dbt.safe_cast('weight', dbt.type_float()) }}, 0.0) as weight,
    from source

)

select * from final
