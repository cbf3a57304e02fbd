"""The two-pass comparison read back from the marts (models/marts/two_pass_*)
as the comparison dict the report renderer and two_pass_comparison.json use,
plus the daily series the report plots.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from allocator.database import table_exists
from allocator.errors import AllocatorError
from allocator.exports import atomic_write, atomic_write_text
from allocator.flag_texts import flag_detail
from allocator.summary import comparison_markdown

COMPARISON_JSON = "two_pass_comparison.json"
COMPARISON_MD = "two_pass_comparison.md"
COMPARISON_HTML = "two_pass_comparison.html"


def _records(con: duckdb.DuckDBPyConnection, query: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    """JSON-ready scalars: ISO dates, None for NaN."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: _plain(value) for key, value in row.items()} for row in rows]


def is_scaled_run(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Is the run the scaled half of a stored two-pass pair?"""
    if not table_exists(con, "two_pass_comparison"):
        return False
    row = con.execute(
        "select count(*) from two_pass_comparison where scaled_run_id = ?", [run_id]
    ).fetchone()
    return bool(row and row[0])


def load_controls(con: duckdb.DuckDBPyConnection, scaled_run_id: str) -> list[dict[str, Any]]:
    """The controls table (two_pass_controls), book by book; empty for a
    database from before the controls."""
    if not table_exists(con, "two_pass_controls"):
        return []
    return _plain_rows(
        _records(
            con,
            "select book, book_label, exposure_rule, exposure_parameter, mean_exposure, "
            "cagr, ann_vol, sharpe, max_drawdown, worst_month, worst_quarter, "
            "governor_beats_max_drawdown, governor_beats_sharpe "
            "from two_pass_controls where scaled_run_id = ? order by book_order",
            [scaled_run_id],
        )
    )


def load_flags(con: duckdb.DuckDBPyConnection, scaled_run_id: str) -> list[dict[str, Any]]:
    """The interpretation flags in display order: the SQL's status and
    outcome, and the sentence the report layer writes from the run's
    figures (allocator.flag_texts)."""
    flags = _records(
        con,
        "select flag, status, outcome from two_pass_flags "
        "where scaled_run_id = ? order by flag_order",
        [scaled_run_id],
    )
    measures = _records(
        con, "select * from two_pass_flag_measures where scaled_run_id = ?", [scaled_run_id]
    )
    figures = measures[0] if measures else {}
    return [
        {
            "flag": flag["flag"],
            "status": flag["status"],
            "outcome": flag["outcome"],
            "detail": flag_detail(flag["flag"], flag["outcome"], figures),
        }
        for flag in flags
    ]


def load_comparison(con: duckdb.DuckDBPyConnection, scaled_run_id: str) -> dict[str, Any]:
    """The comparison of one scaled run with its baseline, from the marts."""
    if not is_scaled_run(con, scaled_run_id):
        raise AllocatorError(
            f"run '{scaled_run_id}' has no row in two_pass_comparison: it is not a scaled run "
            "built with --mode precomputed from a stored baseline (try `allocator two-pass`)"
        )
    head = _records(
        con, "select * from two_pass_comparison where scaled_run_id = ?", [scaled_run_id]
    )[0]
    metrics = _records(
        con,
        "select metric_label as metric, baseline, scaled, delta, unit from two_pass_metrics "
        "where scaled_run_id = ? order by metric_order",
        [scaled_run_id],
    )
    regimes = _records(
        con,
        "select regime, days, pct, longest_run_days from two_pass_regime_distribution "
        "where scaled_run_id = ? order by regime_level, regime",
        [scaled_run_id],
    )
    flags = load_flags(con, scaled_run_id)
    events = _records(
        con,
        "select rebalance_date as date, risk_scalar_used as scalar, regime "
        "from two_pass_derisk_events where scaled_run_id = ? order by event_rank",
        [scaled_run_id],
    )
    transitions = _records(
        con,
        "select from_regime, to_regime, transitions from two_pass_regime_transitions "
        "where scaled_run_id = ? and is_regime_change and transitions > 0 "
        "order by transitions desc, from_regime_level, to_regime_level",
        [scaled_run_id],
    )
    return {
        "baseline_run_id": head["baseline_run_id"],
        "scaled_run_id": head["scaled_run_id"],
        "strategy_profile": head["strategy_profile"],
        "start_date": _plain(head["start_date"]),
        "end_date": _plain(head["end_date"]),
        "metrics": _plain_rows(metrics),
        "scalar_usage": {
            key: _plain(head[key])
            for key in (
                "rebalances_total",
                "rebalances_scaled",
                "pct_scaled",
                "scalar_mean",
                "scalar_min",
                "scalar_max",
            )
        },
        "regimes": _plain_rows(regimes),
        "flags": _plain_rows(flags),
        "top_derisk_events": _plain_rows(events),
        "transitions_per_year": _plain(head["transitions_per_year"]),
        "transitions": _plain_rows(transitions),
        **load_episode_timing(con, scaled_run_id),
        "controls": load_controls(con, scaled_run_id),
    }


EPISODE_COLUMNS = (
    "episode_rank",
    "cadence",
    "peak_date",
    "trough_date",
    "recovery_date",
    "baseline_drawdown",
    "scaled_drawdown",
    "first_alarm_date",
    "detection_lag_sessions",
    "is_alarm_before_trough",
    "first_earning_date",
    "delivery_lag_sessions",
)
FALSE_ALARM_COLUMNS = (
    "months_total",
    "months_with_alarm",
    "alarm_month_share",
    "alarm_spells",
    "median_spell_sessions",
    "alarm_horizon_sessions",
    "drawdown_threshold",
    "false_alarm_spells",
    "false_alarm_share",
    "spells_without_fresh_loss",
    "no_fresh_loss_share",
)


def load_episode_timing(con: duckdb.DuckDBPyConnection, scaled_run_id: str) -> dict[str, Any]:
    """Episode timing and false alarms (two_pass_drawdown_episodes,
    two_pass_false_alarms); empty for a database built before those marts."""
    episodes: list[dict[str, Any]] = []
    false_alarms: dict[str, Any] | None = None
    if table_exists(con, "two_pass_drawdown_episodes"):
        episodes = _records(
            con,
            f"select {', '.join(EPISODE_COLUMNS)} from two_pass_drawdown_episodes "
            "where scaled_run_id = ? order by episode_rank",
            [scaled_run_id],
        )
    if table_exists(con, "two_pass_false_alarms"):
        rows = _records(
            con,
            f"select {', '.join(FALSE_ALARM_COLUMNS)} from two_pass_false_alarms "
            "where scaled_run_id = ?",
            [scaled_run_id],
        )
        false_alarms = _plain_rows(rows)[0] if rows else None
    return {"drawdown_episodes": _plain_rows(episodes), "false_alarms": false_alarms}


def load_daily(con: duckdb.DuckDBPyConnection, run_id: str, with_allocator: bool) -> pd.DataFrame:
    """A run's daily book for the report; the scaled run adds the scalar it
    held each day and the regime of that day."""
    if with_allocator:
        query = (
            "select returns.date, returns.portfolio_return, returns.equity, returns.drawdown, "
            "returns.risk_scalar_used as risk_scalar, regimes.regime "
            "from portfolio_returns as returns "
            "left join allocator_regime_v1 as regimes "
            "on regimes.run_id = returns.run_id and regimes.date = returns.date "
            "where returns.run_id = ? order by returns.date"
        )
    else:
        query = (
            "select date, portfolio_return, equity, drawdown from portfolio_returns "
            "where run_id = ? order by date"
        )
    frame = con.execute(query, [run_id]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def write_comparison_files(
    con: duckdb.DuckDBPyConnection, scaled_run_id: str, run_dir: Path
) -> tuple[dict[str, Any], list[Path]]:
    """two_pass_comparison.json, .md and .html in the scaled run's folder."""
    # Imported here so the CLI's other commands do not load the renderer.
    from allocator.report import write_two_pass_html
    from allocator.report_book import load_book_sections, render_book_sections
    from allocator.tearsheet import audit_tearsheet

    comparison = load_comparison(con, scaled_run_id)
    baseline_daily = load_daily(con, comparison["baseline_run_id"], with_allocator=False)
    scaled_daily = load_daily(con, scaled_run_id, with_allocator=True)
    tearsheet = audit_tearsheet(
        con, comparison["baseline_run_id"], scaled_run_id, baseline_daily, scaled_daily
    )
    json_path = atomic_write_text(
        run_dir / COMPARISON_JSON, json.dumps(comparison, indent=2) + "\n"
    )
    md_path = atomic_write_text(run_dir / COMPARISON_MD, comparison_markdown(comparison))
    # the renderer's default title; the run ids are in the page header
    html_path = atomic_write(
        run_dir / COMPARISON_HTML,
        lambda tmp: write_two_pass_html(
            tmp,
            comparison,
            baseline_daily,
            tearsheet.scaled_daily,
            extra_sections=render_book_sections(
                load_book_sections(con, comparison["baseline_run_id"], scaled_run_id)
            )
            + tearsheet.html,
            extra_plots=tearsheet.plot_count,
        ),
    )
    return comparison, [json_path, md_path, html_path]
