"""dbt's ``target`` for sqlfluff's jinja templater (``target.database``)."""

from __future__ import annotations

database = "lint"
