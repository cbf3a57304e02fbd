{#- A user's own daily portfolio returns (var portfolio_returns_path), one
    row per date. Empty when no file is set. -#}
-- read only once the gate has checked the path
-- depends_on: {{ ref('stg_run_config') }}
{%- if allocator.run_var('portfolio_returns_path') %}
{{ allocator.assert_valid_input(
    source('portfolio_inputs', 'returns'), allocator.run_var('portfolio_returns_path'), 'portfolio returns',
    required_columns=['date', 'portfolio_return'],
    key_columns=['date'],
    value_column='portfolio_return',
    value_rule='above_minus_one',
) }}
{%- endif %}

with source as (

    select * from {{ source('portfolio_inputs', 'returns') }}

),

final as (

    select
        {{ allocator.parse_date_text('cast(date as ' ~ dbt.type_string() ~ ')') }} as date,
        {{ dbt.safe_cast('portfolio_return', dbt.type_float()) }} as portfolio_return,
    from source
    where not {{ allocator.is_missing_text('cast(portfolio_return as ' ~ dbt.type_string() ~ ')') }}

)

select * from final
