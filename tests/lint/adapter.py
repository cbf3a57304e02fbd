"""dbt's ``adapter`` for sqlfluff's jinja templater: the live models name a
published relation with ``adapter.get_relation``; while linting it is a
plain name."""

from __future__ import annotations


def get_relation(database: str, schema: str, identifier: str) -> str:
    return f"{schema}.{identifier}"
