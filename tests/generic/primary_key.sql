{#- The grain test: the columns identify a row. It fails on every key value
    held by more than one row and on every row with a null key column, so it
    stands for a unique test on the combination plus a not_null test on each
    key column, in one query instead of one per column. -#}
{% test primary_key(model, columns) %}

with grouped as (

    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns | join(', ') }}

),

final as (

    select * from grouped
    where row_count > 1
        {%- for column in columns %}
        or {{ column }} is null
        {%- endfor %}

)

select * from final

{% endtest %}
