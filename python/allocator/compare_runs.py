"""`allocator compare A B`: any two runs side by side, stored in the
database or exported to folders (reports/runs/<run_id>/, allocator.exports).

The metrics are always the SQL definitions' (macros/book_metrics.sql and
macros/risk_metrics.sql), never a Python copy of them. A stored run's are its
marts (run_metrics, run_risk_metrics). An export folder carries those marts'
rows (run_metrics.csv, run_risk_metrics.csv) and its equity curve, which are
read as they are. A folder without them (an export made before they were
exported, or a returns file of your own in portfolio_returns.csv) is measured
by the same macros, rendered outside dbt (allocator.sql_macros) and run on its
returns in an in-memory DuckDB. Drawdown periods and regime figures come from
the same functions (allocator.tearsheet) for both kinds. The comparison is
written as run_comparison.json, .md and .html, like the two-pass audit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from allocator import charts, sql_macros, tearsheet
from allocator.database import table_exists
from allocator.errors import AllocatorError
from allocator.exports import (
    MANIFEST_FILENAME,
    RUN_METRICS_FILENAME,
    RUN_RISK_METRICS_FILENAME,
    atomic_write_text,
)

COMPARE_JSON = "run_comparison.json"
COMPARE_MD = "run_comparison.md"
COMPARE_HTML = "run_comparison.html"
COMPARE_TEMPLATE = "run_comparison.html.j2"
#: The files of an export folder a comparison reads.
FOLDER_RETURNS = "portfolio_returns.csv"
FOLDER_REGIMES = "allocator_regime_v1.csv"
FOLDER_EQUITY = "equity_curve.csv"
#: (key, label, unit, higher is better): the headline metrics, then the risk metrics.
METRICS = (
    tearsheet.HEADLINE_METRICS
    + (
        ("worst_month", "Worst Month", "pct", True),
        ("worst_quarter", "Worst Quarter", "pct", True),
    )
    + tearsheet.RISK_METRICS
)
#: Characters kept in the default output folder's name.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison: its daily book, regimes and metrics."""

    label: str
    run_id: str
    source: str  # database or folder
    location: str
    daily: pd.DataFrame  # date, portfolio_return, equity, drawdown
    regimes: pd.Series | None  # session-ordered regime labels
    metrics: dict[str, Any]
    provenance: dict[str, Any]


# --------------------------------------------------------------------------
# A folder's book and metrics, by the marts' SQL definitions
# --------------------------------------------------------------------------

#: The daily book of portfolio_returns (marts), from a folder's returns.
_DAILY_SQL = """
with returns as (

    select * from folder_returns

),

with_equity as (

    select date, portfolio_return, {{ allocator.wealth('portfolio_return') }} as equity,
    from returns

),

final as (

    select date, portfolio_return, equity, {{ allocator.drawdown('equity') }} as drawdown,
    from with_equity

)

select * from final order by date
"""

#: run_metrics and the book's columns of run_risk_metrics, from a daily book.
_METRICS_SQL = """
with daily as (

    select *, 'folder' as run_id, from folder_daily

),

{{ allocator.book_metrics('daily', 'portfolio_return', 'drawdown') }},

{{ allocator.risk_metrics('daily', 'portfolio_return', 'book') }},

final as (

    select
        metrics.*,
        book_risk.downside_vol,
        book_risk.sortino,
        {{ allocator.calmar_ratio('metrics.cagr', 'metrics.max_drawdown') }} as calmar,
        book_risk.skew,
        book_risk.kurtosis,
        book_risk.value_at_risk_95,
        book_risk.conditional_value_at_risk_95,
    from metrics
    cross join book_risk

)

select * from final
"""


def daily_book(dates: pd.Series, returns: pd.Series) -> pd.DataFrame:
    """date, portfolio_return, equity and drawdown as marts.portfolio_returns
    defines them (wealth from 1.0, drawdown below max(1.0, running peak))."""
    frame = pd.DataFrame(
        {"date": pd.to_datetime(dates), "portfolio_return": pd.to_numeric(returns)}
    )
    con = duckdb.connect()
    try:
        con.register("folder_returns", frame)
        daily = con.execute(sql_macros.macro_library().render(_DAILY_SQL)).df()
    finally:
        con.close()
    daily["date"] = pd.to_datetime(daily["date"])
    return daily


def measure(daily: pd.DataFrame) -> dict[str, Any]:
    """The metrics of run_metrics and run_risk_metrics of a daily book (date,
    portfolio_return, drawdown), by their SQL definitions; {} without returns."""
    con = duckdb.connect()
    try:
        con.register("folder_daily", daily[["date", "portfolio_return", "drawdown"]])
        cursor = con.execute(sql_macros.macro_library().render(_METRICS_SQL))
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    finally:
        con.close()
    if row is None:
        return {}
    metrics = dict(zip(names, row, strict=True))
    metrics.pop("run_id", None)
    return _text_dates(metrics)


def _text_dates(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:%Y-%m-%d}" if hasattr(v, "strftime") else v) for k, v in metrics.items()}


def _read_csv(path: Path) -> pd.DataFrame:
    """A folder's CSV file, doubles read back to the bit (DuckDB's reader)."""
    con = duckdb.connect()
    try:
        return con.execute("select * from read_csv(?, header = true)", [str(path)]).df()
    except (OSError, duckdb.Error) as exc:
        raise AllocatorError(f"cannot read {path}: {exc}") from exc
    finally:
        con.close()


def _published_metrics(path: Path) -> dict[str, Any] | None:
    """run_metrics.csv and run_risk_metrics.csv of an export, one dict; None without them."""
    files = [path / RUN_METRICS_FILENAME, path / RUN_RISK_METRICS_FILENAME]
    if not all(file.is_file() for file in files):
        return None
    metrics: dict[str, Any] = {}
    for file in files:
        frame = _read_csv(file)
        if len(frame) != 1:
            raise AllocatorError(f"{file} must hold one row (the run's), found {len(frame)}")
        metrics.update(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in frame.iloc[0].items()
            }
        )
    return _text_dates(
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}
    )


def _published_daily(path: Path, returns: pd.DataFrame, value: str) -> pd.DataFrame | None:
    """The export's equity curve beside its returns; None without equity_curve.csv."""
    if not (path / FOLDER_EQUITY).is_file():
        return None
    curve = _read_csv(path / FOLDER_EQUITY)
    if not {"date", "equity", "drawdown"} <= set(curve.columns) or len(curve) != len(returns):
        return None
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(returns["date"]),
            "portfolio_return": returns[value].to_numpy(dtype=float),
        }
    ).merge(curve.assign(date=pd.to_datetime(curve["date"])), on="date", how="inner")
    if len(daily) != len(returns):
        return None
    return daily.sort_values("date", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------
# Loading a side
# --------------------------------------------------------------------------


def is_export_folder(reference: str) -> bool:
    """Does the reference name an exported run folder (it holds the daily returns)?"""
    path = Path(reference)
    return path.is_dir() and (path / FOLDER_RETURNS).is_file()


def load_folder(path: Path, label: str) -> RunSide:
    """A run from its export folder: portfolio_returns.csv (date, ret), its
    published metrics and equity curve when exported (else measured by the
    marts' SQL), the regimes if exported, export_manifest.json for its identity."""
    returns_file = path / FOLDER_RETURNS
    raw = _read_csv(returns_file)
    value = "ret" if "ret" in raw.columns else "portfolio_return"
    if "date" not in raw.columns or value not in raw.columns:
        raise AllocatorError(f"{returns_file} needs the columns date and ret (an export's layout)")
    numbers = pd.to_numeric(raw[value], errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy())
    if bad.size:
        raise AllocatorError(
            f"{returns_file} row {int(bad[0]) + 2}: {value} must be a number, "
            f"got {raw[value].iloc[int(bad[0])]!r}"
        )
    raw[value] = numbers
    daily = _published_daily(path, raw, value)
    if daily is None:
        daily = daily_book(raw["date"], raw[value])
    metrics = _published_metrics(path)
    if metrics is None:
        metrics = measure(daily)
    regimes = None
    if (path / FOLDER_REGIMES).is_file():
        frame = pd.read_csv(path / FOLDER_REGIMES, usecols=["date", "regime"])
        frame["date"] = pd.to_datetime(frame["date"])
        regimes = frame.sort_values("date")["regime"].reset_index(drop=True)
    manifest: dict[str, Any] = {}
    if (path / MANIFEST_FILENAME).is_file():
        try:
            manifest = json.loads((path / MANIFEST_FILENAME).read_text())
        except (OSError, json.JSONDecodeError):
            manifest = {}
    run_id = str(manifest.get("run_id") or path.name)
    provenance = {
        "config_hash": manifest.get("config_hash"),
        "dbt_invocation_id": manifest.get("dbt_invocation_id"),
    }
    return RunSide(label, run_id, "folder", str(path), daily, regimes, metrics, provenance)


def load_stored(con: duckdb.DuckDBPyConnection, run_id: str, label: str) -> RunSide:
    """A run from the published tables; its metrics are the marts'."""
    registry = tearsheet.one_row(con, "select * from runs where run_id = ?", [run_id])
    if not registry:
        known = [r[0] for r in con.execute("select run_id from runs order by 1").fetchall()]
        raise AllocatorError(
            f"'{run_id}' is neither a stored run nor an exported run folder (a directory "
            f"with {FOLDER_RETURNS}); stored runs: {', '.join(known) or 'none'}"
        )
    daily = con.execute(
        "select date, portfolio_return, equity, drawdown from portfolio_returns "
        "where run_id = ? order by date",
        [run_id],
    ).df()
    daily["date"] = pd.to_datetime(daily["date"])
    regimes = None
    if table_exists(con, "allocator_regime_v1"):
        frame = con.execute(
            "select regime from allocator_regime_v1 where run_id = ? order by date", [run_id]
        ).df()
        regimes = frame["regime"] if len(frame) else None
    metrics = _text_dates(tearsheet.load_run_metrics(con, run_id))
    provenance = {
        key: registry.get(key)
        for key in (
            "strategy_profile",
            "allocator_mode",
            "config_hash",
            "input_fingerprint",
            "dbt_invocation_id",
        )
    }
    return RunSide(label, run_id, "database", run_id, daily, regimes, metrics, provenance)


def side_labels(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a != b else (f"{a} (A)", f"{b} (B)")


# --------------------------------------------------------------------------
# The comparison document
# --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _overlap(a: RunSide, b: RunSide) -> dict[str, Any]:
    joined = a.daily[["date", "portfolio_return"]].merge(
        b.daily[["date", "portfolio_return"]], on="date", suffixes=("_a", "_b")
    )
    corr = (
        joined["portfolio_return_a"].corr(joined["portfolio_return_b"]) if len(joined) > 2 else None
    )
    return {
        "sessions": len(joined),
        "first_date": f"{joined['date'].min():%Y-%m-%d}" if len(joined) else None,
        "last_date": f"{joined['date'].max():%Y-%m-%d}" if len(joined) else None,
        "correlation": _plain(corr),
    }


def compare(a: RunSide, b: RunSide) -> dict[str, Any]:
    """The comparison of two runs: metrics (B - A), drawdown periods, regimes."""
    metrics = []
    for key, label, unit, higher in METRICS:
        va, vb = charts.as_float(a.metrics.get(key)), charts.as_float(b.metrics.get(key))
        metrics.append(
            {
                "metric": key,
                "label": label,
                "unit": unit,
                "higher_is_better": higher,
                "a": va,
                "b": vb,
                "delta": None if va is None or vb is None else vb - va,
            }
        )
    both_regimes = a.regimes is not None and b.regimes is not None
    return {
        "a": _side_document(a),
        "b": _side_document(b),
        "overlap": _overlap(a, b),
        "metrics": metrics,
        "drawdown_periods": {
            "a": [p.as_dict() for p in _periods(a)],
            "b": [p.as_dict() for p in _periods(b)],
        },
        "regimes": (
            {
                "a": tearsheet.regime_figures(a.regimes),
                "b": tearsheet.regime_figures(b.regimes),
            }
            if both_regimes
            else None
        ),
    }


def _periods(side: RunSide) -> list[tearsheet.DrawdownPeriod]:
    return tearsheet.drawdown_periods(side.daily["date"], side.daily["drawdown"])


def _side_document(side: RunSide) -> dict[str, Any]:
    return {
        "label": side.label,
        "run_id": side.run_id,
        "source": side.source,
        "location": side.location,
        "first_date": f"{side.daily['date'].min():%Y-%m-%d}" if len(side.daily) else None,
        "last_date": f"{side.daily['date'].max():%Y-%m-%d}" if len(side.daily) else None,
        "return_days": len(side.daily),
        **{key: _plain(value) for key, value in side.provenance.items()},
    }


# --------------------------------------------------------------------------
# Markdown and HTML
# --------------------------------------------------------------------------


def _regime_rows(regimes: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = [r["regime"] for r in regimes["a"]["regimes"]]
    names += [r["regime"] for r in regimes["b"]["regimes"] if r["regime"] not in names]
    rows = []
    for name in names:
        found = [
            next((r for r in regimes[s]["regimes"] if r["regime"] == name), None) for s in "ab"
        ]
        rows.append(
            {
                "regime": name,
                "colour": charts.REGIME_COLOURS.get(name, charts.UNKNOWN_REGIME_COLOUR),
                "cells": [
                    f"{r['days']:,} ({charts.format_value(r['pct'], 'pct1')})" if r else "0"
                    for r in found
                ],
            }
        )
    rows.append(
        {
            "regime": "Transitions a year",
            "colour": None,
            "cells": [
                charts.format_value(regimes[s]["transitions_per_year"], "ratio") for s in "ab"
            ],
        }
    )
    return rows


def _period_text(period: Mapping[str, Any]) -> list[str]:
    return [
        period["peak_date"],
        period["trough_date"],
        period["recovery_date"] or tearsheet.NOT_RECOVERED,
        f"{period['sessions']:,}",
        charts.format_value(period["depth"], "pct"),
    ]


def _correlation_text(value: Any) -> str:
    """Three decimals: two runs of one book correlate at 0.99 and more."""
    number = charts.as_float(value)
    return charts.format_value(None) if number is None else f"{number:.3f}"


def comparison_markdown(doc: Mapping[str, Any]) -> str:
    a, b = doc["a"], doc["b"]
    lines = [
        f"# Run comparison: {b['label']} vs {a['label']}",
        "",
        f"- A: {a['run_id']} ({a['source']}: {a['location']}), "
        f"{a['first_date']} to {a['last_date']}, {a['return_days']:,} sessions",
        f"- B: {b['run_id']} ({b['source']}: {b['location']}), "
        f"{b['first_date']} to {b['last_date']}, {b['return_days']:,} sessions",
        f"- Common sessions: {doc['overlap']['sessions']:,}; correlation of daily returns "
        f"{_correlation_text(doc['overlap']['correlation'])}",
        "",
        "## Metrics",
        "",
        "| Metric | A | B | B - A |",
        "|---|---|---|---|",
    ]
    for m in doc["metrics"]:
        values = [
            charts.format_value(m["a"], m["unit"]),
            charts.format_value(m["b"], m["unit"]),
            charts.format_delta(m["delta"], m["unit"]),
        ]
        lines.append(f"| {m['label']} | " + " | ".join(values) + " |")
    for side in ("a", "b"):
        lines += [
            "",
            f"## Top {tearsheet.TOP_DRAWDOWNS} drawdowns: {doc[side]['label']}",
            "",
            "| # | Peak | Trough | Recovery | Sessions | Depth |",
            "|---|---|---|---|---|---|",
        ]
        for rank, period in enumerate(doc["drawdown_periods"][side], start=1):
            lines.append(f"| {rank} | " + " | ".join(_period_text(period)) + " |")
    if doc["regimes"]:
        lines += ["", "## Regimes", "", "| Regime | A | B |", "|---|---|---|"]
        for row in _regime_rows(doc["regimes"]):
            lines.append(f"| {row['regime']} | {row['cells'][0]} | {row['cells'][1]} |")
    else:
        lines += ["", "Regimes: not compared (only one side has them)."]
    return "\n".join(lines) + "\n"


def _charts(a: RunSide, b: RunSide) -> list[charts.Plot]:
    """Equity (log) and underwater charts of both runs, with hover values."""
    x_domain = charts.date_domain(a.daily, b.daily)
    if x_domain is None:
        return []
    books = (
        tearsheet.Book(a.label, charts.BASELINE_COLOUR, a.daily),
        tearsheet.Book(b.label, charts.SCALED_COLOUR, b.daily),
    )
    dates = pd.Series(sorted(set(a.daily["date"]) | set(b.daily["date"])))
    lines = tuple(
        charts.daily_line(book.daily, "equity", book.label, book.colour) for book in books
    )
    values = np.concatenate([line.y[np.isfinite(line.y)] for line in lines])
    lo, hi = float(values.min()), float(values.max())
    pad = max((math.log10(hi) - math.log10(lo)) * 0.04, 0.005) if lo > 0 else 0.0
    equity = charts.Chart(
        key="equity",
        title=f"Equity: {b.label} vs {a.label}",
        y_label="Wealth (log scale, start = 1)",
        lines=lines,
        x_domain=x_domain,
        y_domain=(10 ** (math.log10(lo) - pad), 10 ** (math.log10(hi) + pad)),
        log_y=True,
        reference_y=(1.0,),
        height=320,
        description="Cumulative wealth of both runs.",
    )
    hover = [
        charts.HoverSeries(
            book.label, book.daily.set_index("date")["equity"].reindex(dates), "wealth"
        )
        for book in books
    ]
    plots = [charts.plot(equity, dates, hover)]
    # the underwater chart shades B's periods: B is the run under review
    plots.append(tearsheet.underwater_plot([books[1], books[0]], _periods(b), x_domain))
    return plots


def render_html(doc: Mapping[str, Any], a: RunSide, b: RunSide) -> str:
    plots = _charts(a, b)
    metric_rows = [
        {
            "label": m["label"],
            "a": charts.format_value(m["a"], m["unit"]),
            "b": charts.format_value(m["b"], m["unit"]),
            "delta": charts.format_delta(m["delta"], m["unit"]),
            "delta_class": charts.delta_class(
                {"delta": m["delta"], "higher_is_better": m["higher_is_better"]}
            ),
        }
        for m in doc["metrics"]
    ]
    provenance_keys = sorted({k for s in ("a", "b") for k in doc[s]} - {"label"})
    context = {
        "title": f"Run comparison: {doc['b']['label']} vs {doc['a']['label']}",
        "a": doc["a"],
        "b": doc["b"],
        "overlap": doc["overlap"],
        "overlap_correlation": _correlation_text(doc["overlap"]["correlation"]),
        "metrics": metric_rows,
        "plots": plots,
        "n_plots": len(plots),
        "drawdowns": [
            {
                "label": doc[s]["label"],
                "rows": [_period_text(p) for p in doc["drawdown_periods"][s]],
            }
            for s in ("a", "b")
        ],
        "top_drawdowns": tearsheet.TOP_DRAWDOWNS,
        "regimes": _regime_rows(doc["regimes"]) if doc["regimes"] else [],
        "provenance": [
            {
                "key": charts.humanise(k),
                "a": "" if doc["a"].get(k) is None else str(doc["a"].get(k)),
                "b": "" if doc["b"].get(k) is None else str(doc["b"].get(k)),
            }
            for k in provenance_keys
        ],
        "versions": tearsheet.package_versions(),
    }
    return charts.environment().get_template(COMPARE_TEMPLATE).render(**context)


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def default_out_dir(reports_dir: Path, a: RunSide, b: RunSide) -> Path:
    name = f"{a.run_id}_vs_{b.run_id}"
    if a.source == "folder" or b.source == "folder":
        name += "_folders" if a.source == b.source else "_mixed"
    return reports_dir / "compare" / _UNSAFE.sub("_", name)


def load_sides(
    references: Sequence[str],
    db_path: Path,
    reports_dir: Path | None = None,
    emit: Callable[[str], None] | None = None,
) -> tuple[RunSide, RunSide]:
    """Both sides; the database is opened only when a side is not a folder.

    With ``reports_dir``, a database another process is writing is read
    through the marts' Parquet snapshots instead (snapshots.read_published;
    the regimes then come from the run's export folder, if any).
    """
    labels = side_labels(*[Path(r).name if is_export_folder(r) else r for r in references])
    folders = [is_export_folder(r) for r in references]
    sides: list[RunSide | None] = [
        load_folder(Path(r), label) if folder else None
        for r, label, folder in zip(references, labels, folders, strict=True)
    ]
    if not all(folders):
        from allocator import database, snapshots

        reader = (
            snapshots.read_published(db_path, reports_dir, emit)
            if reports_dir is not None
            else database.read_only(db_path)
        )
        with reader as con:
            if not table_exists(con, "runs"):
                raise AllocatorError(f"no run is stored in {db_path} yet")
            sides = [
                side if side is not None else load_stored(con, ref, label)
                for side, ref, label in zip(sides, references, labels, strict=True)
            ]
        if reports_dir is not None:
            sides = [_with_exported_regimes(side, reports_dir) for side in sides]
    return sides[0], sides[1]  # type: ignore[return-value]


def _with_exported_regimes(side: RunSide | None, reports_dir: Path) -> RunSide | None:
    """A stored side read without its regimes (from the snapshots, which hold
    the marts only) takes them from its export folder."""
    if side is None or side.regimes is not None or side.source != "database":
        return side
    exported = reports_dir / "runs" / side.run_id / FOLDER_REGIMES
    if not exported.is_file():
        return side
    frame = pd.read_csv(exported, usecols=["date", "regime"])
    frame["date"] = pd.to_datetime(frame["date"])
    regimes = frame.sort_values("date")["regime"].reset_index(drop=True)
    return replace(side, regimes=regimes)


def write_comparison(a: RunSide, b: RunSide, out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """run_comparison.json, .md and .html in ``out_dir``."""
    doc = compare(a, b)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        atomic_write_text(out_dir / COMPARE_JSON, json.dumps(doc, indent=2) + "\n"),
        atomic_write_text(out_dir / COMPARE_MD, comparison_markdown(doc)),
        atomic_write_text(out_dir / COMPARE_HTML, render_html(doc, a, b)),
    ]
    return doc, paths
