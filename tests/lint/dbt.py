"""dbt's cross-database macros as dbt-duckdb renders them, for sqlfluff's
jinja templater (.sqlfluff: library_path = tests/lint): the models call
``{{ dbt.type_string() }}`` and the like, and so do the project's macros
(tests/lint/allocator.py hands them this module as ``dbt``)."""

from __future__ import annotations


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def safe_cast(field: str, type_: str) -> str:
    return f"try_cast({field} as {type_})"


def type_string() -> str:
    return "varchar"


def type_bigint() -> str:
    return "bigint"


def type_int() -> str:
    return "integer"


def type_float() -> str:
    return "float"


def type_numeric() -> str:
    return "numeric(28, 6)"


def type_boolean() -> str:
    return "boolean"


def type_timestamp() -> str:
    return "timestamp"
