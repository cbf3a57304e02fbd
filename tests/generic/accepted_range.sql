{#- Values lie within [min_value, max_value] (either bound optional; with
    inclusive: false the bounds themselves fail). Nulls pass unless
    allow_null is false, which makes the test stand for a not_null test on
    the column as well, in the same query. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true, allow_null=true) %}

with final as (

    select {{ column_name }}
    from {{ model }}
    where
        {%- if allow_null %}
        {{ column_name }} is not null and
        {%- else %}
        {{ column_name }} is null or
        {%- endif %}
        (
            1 = 0
            {%- if min_value is not none %}
            or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
            or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
            {%- endif %}
        )

)

select * from final

{% endtest %}
