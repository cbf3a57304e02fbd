"""Loading the scalars a precomputed run applies (models/staging/run_inputs/
stg_allocator__precomputed_scalars_loaded.py): the published rows of a stored
baseline, or a file in the seeds' allocator_risk_v1_applied.csv format.

File format: ``rebalance_date`` (or ``date``) as YYYY-MM-DD, one row per
rebalance, and ``risk_scalar_applied`` in (0, 1]; other columns are ignored,
so an exported allocator_risk_v1_applied.csv is a valid file. Paths and run
ids reach SQL as bound parameters, never as SQL text.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

COLUMNS = ("rebalance_date", "risk_scalar_applied", "source_kind", "source", "problem")
PUBLISHED_APPLIED = "artifacts.allocator_risk_v1_applied"


def _empty(problem: str | None = None) -> pd.DataFrame:
    rows = [dict.fromkeys(COLUMNS)] if problem else []
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if problem:
        frame.loc[0, "problem"] = problem
    return frame


def file_problem(frame: pd.DataFrame, path: str) -> str | None:
    """The first problem of a scalar file (read as text), naming the row."""
    where = f"precomputed scalar file '{path}'"
    columns = [str(c).lower() for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    date_column = "rebalance_date" if "rebalance_date" in columns else "date"
    if "risk_scalar_applied" not in columns or date_column not in columns:
        return (
            f"{where} needs columns rebalance_date (or date) and risk_scalar_applied; "
            f"found {', '.join(columns)}"
        )
    if frame.empty:
        return f"{where}: the file has no rows"
    seen: set[str] = set()
    for line, (raw_date, raw_value) in enumerate(
        zip(frame[date_column], frame["risk_scalar_applied"], strict=True), start=2
    ):
        date = pd.to_datetime(str(raw_date).strip(), format="%Y-%m-%d", errors="coerce")
        if pd.isna(date):
            return f"{where}, line {line}: {date_column} '{raw_date}' is not a date (YYYY-MM-DD)"
        try:
            value = float(str(raw_value).strip())
        except ValueError:
            return (
                f"{where}, line {line}, date {raw_date}: "
                f"risk_scalar_applied '{raw_value}' is not a number"
            )
        if not math.isfinite(value) or value <= 0 or value > 1:
            return (
                f"{where}, line {line}, date {raw_date}: "
                f"risk_scalar_applied {raw_value} is not in (0, 1]"
            )
        key = date.date().isoformat()
        if key in seen:
            return f"{where}, line {line}: date {key} appears more than once"
        seen.add(key)
    return None


def load_file(session: Any, path: str) -> pd.DataFrame:
    reader = (
        "read_parquet(?)"
        if path.lower().endswith(".parquet")
        else ("read_csv(?, all_varchar = true, header = true)")
    )
    raw = session.execute(f"select * from {reader}", [path]).df().astype(str)
    problem = file_problem(raw, path)
    if problem:
        return _empty(problem)
    raw.columns = [str(c).lower() for c in raw.columns]
    date_column = "rebalance_date" if "rebalance_date" in raw.columns else "date"
    return pd.DataFrame(
        {
            "rebalance_date": pd.to_datetime(raw[date_column].str.strip()).dt.date,
            "risk_scalar_applied": raw["risk_scalar_applied"].astype(float),
            "source_kind": "file",
            "source": path,
            "problem": None,
        },
        columns=list(COLUMNS),
    )


def load_run(session: Any, run_id: str) -> pd.DataFrame:
    frame = session.execute(
        f"select rebalance_date, risk_scalar_applied from {PUBLISHED_APPLIED} "
        "where run_id = ? order by rebalance_date",
        [run_id],
    ).df()
    frame["source_kind"] = "run"
    frame["source"] = run_id
    frame["problem"] = None
    return frame[list(COLUMNS)]


def precomputed_scalars(session: Any, source_kind: str | None, source: str | None) -> pd.DataFrame:
    """The scalars to apply, or one row with a problem; empty unless precomputed."""
    if source_kind == "run" and source:
        return load_run(session, source)
    if source_kind == "file" and source:
        return load_file(session, source)
    return _empty()
