"""dbt's ``target`` for sqlfluff's jinja templater (``target.database``, and
``target.get('database')``: dbt-spark's target has no database)."""

from __future__ import annotations

database = "lint"


def get(name: str, default: object = None) -> object:
    """dbt's target is a mapping; a key it may lack is read with get."""
    return globals().get(name, default)
