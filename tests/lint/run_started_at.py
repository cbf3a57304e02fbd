"""dbt's ``run_started_at`` for sqlfluff's jinja templater: the models only
format it (``run_started_at.strftime(...)``), so a fixed time renders."""

from __future__ import annotations

import datetime

_STARTED = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def strftime(format_: str) -> str:
    return _STARTED.strftime(format_)
