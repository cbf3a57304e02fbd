{#-
    Constants and helpers of the Allocator v1 layers (models/allocator).
    The windows are part of the feature definitions, not settings: changing
    one changes what a column means, so they live here and are written into
    allocator_state_v1_meta.parameters.
-#}

{% macro allocator_v1_version() -%}
    {{ return('v1.0') }}
{%- endmacro %}


{#- Observation counts of the state features (sessions of the recorded book). -#}
{% macro allocator_state_windows() -%}
    {{ return({
        'short': 20,
        'long': 60,
        'slope': 10,
        'warm_up': 60,
        'breadth': 20,
        'concentration': 60,
        'corr_history': 250,
        'drawdown_highs': [252, 504],
        'annualisation': allocator.sessions_per_year(),
    }) }}
{%- endmacro %}


{#- The share of a precomputed run's rebalances its scalars must cover; the
    rest fall back to apply_missing_scalar_as (the seeds' 1.0). A baseline of
    the same profile and window covers all of them. -#}
{% macro precomputed_min_coverage() -%}
    {{ return(0.9) }}
{%- endmacro %}


{#- Running product (equity from simple returns). DuckDB's product
    aggregate is the exact cumulative product. -#}
{% macro cumulative_product(expression, window_spec) -%}
    product({{ expression }}) over ({{ window_spec }})
{%- endmacro %}


{#- JSON text aggregates for the meta tables; `where` filters the rows
    aggregated (an empty set gives [] or {}). -#}
{% macro json_array_agg(expression, order_by, where='true') -%}
    cast(to_json(coalesce(list({{ expression }} order by {{ order_by }}) filter (where {{ where }}), [])) as varchar)
{%- endmacro %}

{% macro json_object_agg(key, value, order_by, where='true') -%}
    {#- map_from_entries keeps the given order -#}
    cast(to_json(coalesce(
        map_from_entries(list(struct_pack(k := {{ key }}, v := {{ value }}) order by {{ order_by }}) filter (where {{ where }})),
        map()
    )) as varchar)
{%- endmacro %}


{#- A Jinja value as a SQL string literal holding its JSON text. -#}
{% macro json_literal(value) -%}
    '{{ tojson(value, sort_keys=true) | replace("'", "''") }}'
{%- endmacro %}


{#- A JSON object built from SQL expressions: pairs is a list of
    (key, sql_expression); keys are literals. -#}
{% macro json_object_sql(pairs) -%}
    json_object({% for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}


{#- JSON text: the keys of the second object added to (or replacing) the first. -#}
{% macro json_merge_sql(first, second) -%}
    cast(json_merge_patch({{ first }}, {{ second }}) as varchar)
{%- endmacro %}


{#- Scale-free inputs derived from a state feature for the regime rules, and
    the feature each is derived from (its availability is the feature's). -#}
{% macro allocator_regime_derived_inputs() -%}
    {{ return({
        'port_rvol_long_run': 'port_rvol_60d',
        'rvol_ratio_long_run': 'port_rvol_20d',
        'dd_vol_units': 'dd_level',
        'dd_slope_vol_units': 'dd_slope_10d',
        'dd_252d_vol_units': 'dd_level_252d',
        'dd_504d_vol_units': 'dd_level_504d',
    }) }}
{%- endmacro %}
