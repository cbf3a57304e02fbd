{#- The risk-free rate file's rows (date, annual rate as a fraction), when
    var risk_free_path names one; no rows for a constant rate. Not a
    typed input of the book (tag unscaled): a scaled run that reads its
    baseline's layers builds it too, as every metric needs it
    (macros/risk_free.sql with_risk_free_return). -#}
-- read only once the gate has checked the path and bound the source to it
-- depends_on: {{ ref('stg_run_config') }}
{%- set given = allocator.risk_free_path() -%}
{%- if given %}
{{ allocator.assert_valid_input(
    source('market_data', 'risk_free_rates'), given, 'risk-free rate',
    required_columns=['date', 'rate'],
    key_columns=['date'],
    value_column='rate',
    value_rule='finite',
) }}

with source as (

    select * from {{ source('market_data', 'risk_free_rates') }}

),

typed as (

    select
        {{ allocator.parse_date_text('cast(date as ' ~ dbt.type_string() ~ ')') }} as date,
        {{ dbt.safe_cast('rate', dbt.type_float()) }} as annual_rate,
    from source

),

checked as (

    select
        *,
        case when annual_rate <= -1 or annual_rate > 1 then error(
            'risk-free rate file ''' || {{ allocator.sql_literal(given) }} || ''': date ' || cast(date as varchar)
            || ': rate ' || cast(annual_rate as varchar) || ' is not an annual rate as a fraction (0.045 for 4.5%)'
        ) end as failed,
    from typed
    where annual_rate is not null and not isnan(annual_rate)

),

final as (

    -- filtering on failed makes the error() above run
    select date, annual_rate, from checked where failed is null

)
{%- else %}

with final as (

    select
        cast(null as date) as date,
        cast(null as {{ dbt.type_float() }}) as annual_rate,
    where false

)
{%- endif %}

select * from final
