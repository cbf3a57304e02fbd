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
        'annualisation': 252,
    }) }}
{%- endmacro %}


{#- Above this many held symbols the O(N^2) pairwise correlation gives way to
    the O(N) implied estimator (var correlation_exact_max_symbols). -#}
{% macro correlation_exact_max_symbols() -%}
    {%- set limit = var('correlation_exact_max_symbols', 50) -%}
    {%- if limit is not number or limit < 2 -%}
        {{ exceptions.raise_compiler_error("var correlation_exact_max_symbols must be an integer >= 2; got " ~ limit) }}
    {%- endif -%}
    {{ return(limit | int) }}
{%- endmacro %}


{#- 'exact' or 'implied' for the current run: decided at run time from the
    number of symbols in weights_raw, because it switches which SQL is built
    (the exact path must not even be planned for a large universe). -#}
{% macro correlation_method(weights_relation) -%}
    {%- if not execute -%}
        {{ return('exact') }}
    {%- endif -%}
    {%- set held = run_query(
        "select count(distinct symbol) from " ~ weights_relation ~ " where run_id = '" ~ allocator.run_id() ~ "'"
    ).columns[0].values()[0] -%}
    {{ return('exact' if held <= allocator.correlation_exact_max_symbols() else 'implied') }}
{%- endmacro %}


{#- Running product (equity from simple returns). DuckDB has a product
    aggregate, which is the exact cumulative product; elsewhere exp-sum-ln. -#}
{% macro cumulative_product(expression, window_spec) -%}
    {{ return(adapter.dispatch('cumulative_product', 'allocator')(expression, window_spec)) }}
{%- endmacro %}

{% macro duckdb__cumulative_product(expression, window_spec) -%}
    product({{ expression }}) over ({{ window_spec }})
{%- endmacro %}

{% macro default__cumulative_product(expression, window_spec) -%}
    exp(sum(ln({{ expression }})) over ({{ window_spec }}))
{%- endmacro %}


{#- JSON text aggregates for the meta tables; `where` filters the rows
    aggregated (an empty set gives [] or {}). -#}
{% macro json_array_agg(expression, order_by, where='true') -%}
    {{ return(adapter.dispatch('json_array_agg', 'allocator')(expression, order_by, where)) }}
{%- endmacro %}

{% macro duckdb__json_array_agg(expression, order_by, where) -%}
    cast(to_json(coalesce(list({{ expression }} order by {{ order_by }}) filter (where {{ where }}), [])) as varchar)
{%- endmacro %}

{% macro json_object_agg(key, value, order_by, where='true') -%}
    {{ return(adapter.dispatch('json_object_agg', 'allocator')(key, value, order_by, where)) }}
{%- endmacro %}

{% macro duckdb__json_object_agg(key, value, order_by, where) -%}
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
    {{ return(adapter.dispatch('json_object_sql', 'allocator')(pairs)) }}
{%- endmacro %}

{% macro duckdb__json_object_sql(pairs) -%}
    json_object({% for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}


{#- JSON text: the keys of the second object added to (or replacing) the first. -#}
{% macro json_merge_sql(first, second) -%}
    {{ return(adapter.dispatch('json_merge_sql', 'allocator')(first, second)) }}
{%- endmacro %}

{% macro duckdb__json_merge_sql(first, second) -%}
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
    }) }}
{%- endmacro %}
