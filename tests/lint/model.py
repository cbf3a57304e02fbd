"""dbt's ``model`` for sqlfluff's jinja templater: stg_run_config reads
its contract's columns from it; while linting it has none."""

from __future__ import annotations

columns: dict[str, object] = {}
