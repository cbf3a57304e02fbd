"""The tear sheet of a run, and of the two-pass audit: the sections the HTML
report adds after its four plots.

The risk metrics (Sortino, Calmar, skew, kurtosis, VaR, CVaR, beta and
correlation) are computed in SQL (marts.run_risk_metrics) and only read
here. What is drawn (monthly and yearly returns, rolling volatility and
Sharpe, the underwater chart and its drawdown periods) is derived here from
the published daily returns, with the same conventions as the SQL: wealth
starts at 1.0 before the first return, calendar periods compound, volatility
is ddof 1 annualised with sqrt(252).

Every chart carries its hover values as JSON beside its SVG; one inline
script (templates/_hover_script.html.j2) shows them under the pointer.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from markupsafe import Markup

from allocator import charts
from allocator.database import table_exists

#: Sessions a year: macros/windows.sql sessions_per_year(), empyrical's
#: annualisation; the rolling windows are half a year and a year of them.
SESSIONS_PER_YEAR = 252
ROLLING_WINDOWS: tuple[tuple[str, int], ...] = (("6m", 126), ("12m", 252))
TOP_DRAWDOWNS = 5
#: Heatmap colours saturate at this monthly return (and difference).
HEATMAP_LIMIT = 0.06
HEATMAP_DIFF_LIMIT = 0.02
SECTIONS_TEMPLATE = "tearsheet_sections.html.j2"
#: Packages whose versions the provenance lists.
PROVENANCE_PACKAGES = ("allocator", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "jinja2")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NOT_RECOVERED = "not recovered"

#: (column of run_risk_metrics, label, unit, higher is better)
RISK_METRICS: tuple[tuple[str, str, str, bool | None], ...] = (
    ("sortino", "Sortino", "ratio", True),
    ("calmar", "Calmar", "ratio", True),
    ("downside_vol", "Downside vol", "pct", False),
    ("skew", "Skew", "ratio", True),
    ("kurtosis", "Excess kurtosis", "ratio", False),
    ("value_at_risk_95", "VaR 95 (daily)", "pct", True),
    ("conditional_value_at_risk_95", "CVaR 95 (daily)", "pct", True),
)
#: Headline metrics of run_metrics shown beside them, for the benchmark column.
HEADLINE_METRICS: tuple[tuple[str, str, str, bool | None], ...] = (
    ("cagr", "CAGR", "pct", True),
    ("ann_vol", "Ann Vol", "pct", False),
    ("sharpe", "Sharpe", "ratio", True),
    ("max_drawdown", "MaxDD", "pct", True),
)


# --------------------------------------------------------------------------
# Pure computations on daily series
# --------------------------------------------------------------------------


def period_returns(dates: pd.Series, returns: pd.Series, freq: str) -> pd.Series:
    """Compounded calendar-period returns ("M" month, "Y" year), indexed by
    the period's start date, as book_metrics compounds months and quarters."""
    frame = pd.DataFrame({"date": pd.to_datetime(dates), "r": pd.to_numeric(returns)})
    frame = frame.dropna()
    key = frame["date"].dt.to_period(freq).dt.start_time
    return (1.0 + frame["r"]).groupby(key).prod() - 1.0


def monthly_table(dates: pd.Series, returns: pd.Series) -> pd.DataFrame:
    """Monthly returns as a year x month (1-12) table; missing months NaN."""
    months = period_returns(dates, returns, "M")
    frame = pd.DataFrame(
        {"year": months.index.year, "month": months.index.month, "r": months.to_numpy()}
    )
    return frame.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))


def rolling_vol_sharpe(returns: pd.Series, window: int) -> tuple[pd.Series, pd.Series]:
    """Rolling annualised volatility (ddof 1) and Sharpe (zero risk-free
    rate) over the last ``window`` sessions; NaN until the window is full."""
    rolling = pd.to_numeric(returns).rolling(window, min_periods=window)
    std = rolling.std(ddof=1)
    vol = std * math.sqrt(SESSIONS_PER_YEAR)
    sharpe = rolling.mean() / std.where(std > 0) * math.sqrt(SESSIONS_PER_YEAR)
    return vol, sharpe


@dataclass(frozen=True)
class DrawdownPeriod:
    """One stretch under water: from the last high-water mark before it
    (peak) through its deepest point (trough) to the first session back at
    the mark (recovery, None when the series ends under water)."""

    peak: pd.Timestamp
    trough: pd.Timestamp
    recovery: pd.Timestamp | None
    sessions: int
    depth: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak_date": self.peak.date().isoformat(),
            "trough_date": self.trough.date().isoformat(),
            "recovery_date": None if self.recovery is None else self.recovery.date().isoformat(),
            "sessions": self.sessions,
            "depth": self.depth,
        }


def drawdown_periods(
    dates: pd.Series, drawdown: pd.Series, top: int = TOP_DRAWDOWNS
) -> list[DrawdownPeriod]:
    """The ``top`` deepest drawdown periods, deepest first.

    ``drawdown`` is the published one (0 at a high-water mark, the starting
    1.0 counting as a peak). A period starts at the last session at the mark
    before it, or at the first session when the book lost on its first day;
    its length counts sessions from that peak to the recovery, or to the last
    session when it has not recovered.
    """
    values = pd.to_numeric(drawdown).to_numpy(dtype=float)
    days = pd.to_datetime(pd.Series(dates)).reset_index(drop=True)
    under = values < 0
    periods: list[DrawdownPeriod] = []
    i, n = 0, len(values)
    while i < n:
        if not under[i]:
            i += 1
            continue
        start = i
        while i < n and under[i]:
            i += 1
        end = i  # first session back at the mark, or n
        trough = start + int(np.argmin(values[start:end]))
        peak = max(start - 1, 0)
        recovered = end < n
        periods.append(
            DrawdownPeriod(
                peak=days[peak],
                trough=days[trough],
                recovery=days[end] if recovered else None,
                sessions=(end if recovered else n - 1) - peak,
                depth=float(values[trough]),
            )
        )
    periods.sort(key=lambda p: (p.depth, p.peak))
    return periods[:top]


def regime_figures(regimes: pd.Series) -> dict[str, Any]:
    """Days and share per regime, spells and transitions a year, from a
    session-ordered regime series (nulls, the warm-up, left out)."""
    labels = regimes.dropna().astype(str).str.upper().reset_index(drop=True)
    total = len(labels)
    changes = int((labels != labels.shift()).iloc[1:].sum()) if total else 0
    counts = labels.value_counts()
    order = [r for r in charts.REGIME_ORDER if r in counts.index]
    order += sorted(set(counts.index) - set(order))
    return {
        "days": total,
        "transitions": changes,
        "transitions_per_year": changes / (total / SESSIONS_PER_YEAR) if total else None,
        "regimes": [
            {"regime": r, "days": int(counts[r]), "pct": float(counts[r]) / total} for r in order
        ],
    }


# --------------------------------------------------------------------------
# Charts (allocator.charts) with hover data
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Book:
    """One daily series of the tear sheet: a run or the benchmark."""

    label: str
    colour: str
    daily: pd.DataFrame  # date, portfolio_return, drawdown


#: A chart before rendering: a charts.Chart, its dates and hover series.
ChartSpec = tuple[Any, pd.Series, list[charts.HoverSeries]]


def rolling_charts(books: Sequence[Book], x_domain: tuple[float, float]) -> list[ChartSpec]:
    """Rolling 6- and 12-month volatility and Sharpe of each book."""
    plots: list[ChartSpec] = []
    for key, title, unit in (
        ("rolling_vol", "Rolling volatility (annualised), 6 and 12 months", "pct"),
        ("rolling_sharpe", "Rolling Sharpe ratio, 6 and 12 months", "ratio"),
    ):
        lines, hover = [], []
        dates = books[0].daily["date"]
        for book in books:
            returns = book.daily.set_index("date")["portfolio_return"]
            for name, window in ROLLING_WINDOWS:
                vol, sharpe = rolling_vol_sharpe(returns, window)
                values = vol if key == "rolling_vol" else sharpe
                label = f"{book.label} {name}"
                lines.append(
                    charts.Line(
                        label=label,
                        colour=book.colour,
                        x=charts.to_days(pd.Series(values.index)),
                        y=values.to_numpy(dtype=float),
                        width=1.6 if window == SESSIONS_PER_YEAR else 1.0,
                        dash=None if window == SESSIONS_PER_YEAR else "4 3",
                    )
                )
                hover.append(charts.HoverSeries(label, values.reindex(pd.to_datetime(dates)), unit))
        domain = charts.pct_domain([line.y for line in lines], zero_floor=key == "rolling_vol")
        ticks = charts.nice_ticks(domain[0], domain[1], charts.LINEAR_TICK_TARGET)
        chart = charts.Chart(
            key=key,
            title=title,
            y_label="Volatility" if key == "rolling_vol" else "Sharpe",
            lines=tuple(lines),
            x_domain=x_domain,
            y_domain=domain,
            y_format=charts.pct_tick_formatter(ticks) if unit == "pct" else None,
            reference_y=(0.0,) if key == "rolling_sharpe" else (),
            height=280,
            description=f"{title}: trailing 126 and 252 sessions, dashed the 6-month window.",
        )
        plots.append((chart, dates, hover))
    return plots


def underwater_chart(
    books: Sequence[Book], periods: Sequence[DrawdownPeriod], x_domain: tuple[float, float]
) -> ChartSpec:
    """Every book's drawdown, with the first book's top drawdown periods shaded."""
    lines = tuple(
        charts.daily_line(book.daily, "drawdown", book.label, book.colour) for book in books
    )
    bands = tuple(
        charts.Band(
            float(charts.to_days(pd.Series([p.peak]))[0]),
            float(charts.to_days(pd.Series([p.recovery or books[0].daily["date"].iloc[-1]]))[0]),
            "DRAWDOWN",
            f"#{rank} {books[0].label}: {charts.format_value(p.depth, 'pct')} from "
            f"{p.peak:%Y-%m-%d}, trough {p.trough:%Y-%m-%d}, "
            f"{'recovered ' + format(p.recovery, '%Y-%m-%d') if p.recovery else NOT_RECOVERED}",
        )
        for rank, p in enumerate(periods, start=1)
    )
    domain = charts.drawdown_domain(lines)
    ticks = charts.nice_ticks(domain[0], domain[1], charts.LINEAR_TICK_TARGET)
    chart = charts.Chart(
        key="underwater",
        title=f"Underwater, with the top {len(periods)} drawdown periods of {books[0].label}",
        y_label="Drawdown from peak",
        lines=lines,
        x_domain=x_domain,
        y_domain=domain,
        y_format=charts.pct_tick_formatter(ticks),
        bands=bands,
        extra_legend=((f"Top {len(periods)} periods", charts.UNKNOWN_REGIME_COLOUR),),
        height=280,
        description="Drawdown from the running peak; shaded, the deepest drawdown periods.",
    )
    dates = books[0].daily["date"]
    hover = [
        charts.HoverSeries(
            b.label, b.daily.set_index("date")["drawdown"].reindex(pd.to_datetime(dates)), "pct"
        )
        for b in books
    ]
    return (chart, dates, hover)


def underwater_plot(
    books: Sequence[Book], periods: Sequence[DrawdownPeriod], x_domain: tuple[float, float]
) -> charts.Plot:
    return charts.plot(*underwater_chart(books, periods, x_domain))


def audit_plot_hover(
    baseline: pd.DataFrame, scaled: pd.DataFrame, benchmark_label: str | None
) -> list[Markup]:
    """Hover data for report.py's four audit plots, on the same x scale."""
    x_domain = charts.date_domain(baseline, scaled)
    if x_domain is None:
        return []
    dates = scaled["date"]
    base = baseline.set_index("date").reindex(pd.to_datetime(dates))
    own = scaled.set_index("date")
    regime = own["regime"].fillna("") if "regime" in own else None
    equity = [
        charts.HoverSeries("Baseline", base["equity"], "wealth"),
        charts.HoverSeries("Scaled", own["equity"], "wealth"),
    ]
    if "benchmark_equity" in own:
        equity.append(
            charts.HoverSeries(benchmark_label or "Benchmark", own["benchmark_equity"], "wealth")
        )
    payloads = [
        ("equity", equity),
        (
            "drawdown",
            [
                charts.HoverSeries("Baseline", base["drawdown"], "pct"),
                charts.HoverSeries("Scaled", own["drawdown"], "pct"),
            ],
        ),
    ]
    if regime is not None:
        equity.append(charts.HoverSeries("Regime", regime, "text"))
        if "risk_scalar" in own:
            payloads.append(
                (
                    "risk_scalar",
                    [
                        charts.HoverSeries("Risk scalar", own["risk_scalar"], "ratio"),
                        charts.HoverSeries("Regime", regime, "text"),
                    ],
                )
            )
        payloads.append(
            (
                "regime_drawdown",
                [
                    charts.HoverSeries("Baseline drawdown", base["drawdown"], "pct"),
                    charts.HoverSeries("Regime", regime, "text"),
                ],
            )
        )
    return [
        charts.hover_script_tag(charts.hover_payload(k, dates, s, x_domain)) for k, s in payloads
    ]


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def _heat_colour(value: float | None, limit: float) -> str:
    """Red for losses, green for gains, white at zero, saturating at ``limit``."""
    if value is None or not math.isfinite(value):
        return "#f8f9fa"
    t = max(-1.0, min(1.0, value / limit))
    base = (47, 158, 68) if t > 0 else (224, 49, 49)
    mix = abs(t) * 0.75
    r, g, b = (round(255 + (c - 255) * mix) for c in base)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap_rows(table: pd.DataFrame, label: str, limit: float) -> list[dict[str, Any]]:
    """Rows of a year x month heatmap, each cell with text, colour and hover title."""
    rows = []
    for year, values in table.iterrows():
        cells = []
        for month in range(1, 13):
            value = charts.as_float(values.get(month))
            text = charts.format_value(value, "pct1") if value is not None else ""
            cells.append(
                {
                    "text": text,
                    "colour": _heat_colour(value, limit),
                    "title": f"{label} {year}-{month:02d}: {text or 'no return'}",
                }
            )
        rows.append({"year": int(year), "cells": cells})
    return rows


def yearly_rows(books: Sequence[Book]) -> tuple[list[str], list[dict[str, Any]]]:
    """Calendar-year returns of every book (and scaled minus baseline)."""
    years = {
        book.label: period_returns(book.daily["date"], book.daily["portfolio_return"], "Y")
        for book in books
    }
    index = sorted({d.year for series in years.values() for d in series.index})
    columns = [book.label for book in books]
    has_delta = len(books) >= 2
    if has_delta:
        columns.insert(2, f"{books[1].label} - {books[0].label}")
    rows = []
    for year in index:
        values = [
            charts.as_float(years[b.label].get(pd.Timestamp(year=year, month=1, day=1)))
            for b in books
        ]
        cells = [charts.format_value(v, "pct") for v in values]
        if has_delta:
            delta = None if None in values[:2] else values[1] - values[0]
            cells.insert(2, charts.format_delta(delta, "pct"))
        rows.append({"year": year, "cells": cells})
    return columns, rows


def drawdown_rows(periods: Sequence[DrawdownPeriod]) -> list[dict[str, str]]:
    return [
        {
            "rank": str(rank),
            "peak": f"{p.peak:%Y-%m-%d}",
            "trough": f"{p.trough:%Y-%m-%d}",
            "recovery": f"{p.recovery:%Y-%m-%d}" if p.recovery is not None else NOT_RECOVERED,
            "sessions": f"{p.sessions:,}",
            "depth": charts.format_value(p.depth, "pct"),
        }
        for rank, p in enumerate(periods, start=1)
    ]


def metric_rows(
    metrics: Mapping[str, Mapping[str, Any]], columns: Sequence[str], with_delta: bool
) -> list[dict[str, Any]]:
    """Metric rows over the named columns (run label -> metric values); the
    delta is the second column minus the first."""
    rows = []
    for key, label, unit, higher in HEADLINE_METRICS + RISK_METRICS:
        values = [metrics.get(c, {}).get(key) for c in columns]
        row: dict[str, Any] = {
            "metric": label,
            "values": [charts.format_value(v, unit) for v in values],
        }
        if with_delta:
            a, b = (charts.as_float(v) for v in values[:2])
            delta = None if a is None or b is None else b - a
            row["delta"] = charts.format_delta(delta, unit)
            row["delta_class"] = charts.delta_class(
                {"delta": delta, "higher_is_better": higher, "metric": label}
            )
        rows.append(row)
    return rows


def package_versions() -> list[dict[str, str]]:
    out = [{"name": "python", "version": platform.python_version()}]
    for name in PROVENANCE_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        out.append({"name": name, "version": version})
    return out


# --------------------------------------------------------------------------
# Reading the published tables
# --------------------------------------------------------------------------


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any]:
    cursor = con.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return {}
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def load_run_metrics(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """run_metrics and run_risk_metrics of a run, one dict (empty if absent)."""
    out = one_row(con, "select * from run_metrics where run_id = ?", [run_id])
    if table_exists(con, "run_risk_metrics"):
        out.update(one_row(con, "select * from run_risk_metrics where run_id = ?", [run_id]))
    return out


def benchmark_metrics(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The benchmark's columns of run_risk_metrics, under the book's names."""
    if not metrics.get("benchmark_symbol"):
        return None
    names = [key for key, *_ in HEADLINE_METRICS + RISK_METRICS]
    return {name: metrics.get(f"benchmark_{name}") for name in names}


def load_benchmark_daily(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """The run's benchmark series (date, portfolio_return, drawdown, equity);
    empty without a benchmark."""
    if not table_exists(con, "benchmark_returns"):
        return pd.DataFrame(columns=["date", "portfolio_return", "drawdown", "equity"])
    frame = con.execute(
        "select date, benchmark_return as portfolio_return, benchmark_drawdown as drawdown, "
        "benchmark_equity as equity from benchmark_returns where run_id = ? order by date",
        [run_id],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def load_provenance(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Configuration hash, input fingerprint and invocation of each run (marts.runs)."""
    rows = []
    for run_id in run_ids:
        row = one_row(
            con,
            "select run_id, config_hash, input_fingerprint, dbt_invocation_id, created_at "
            "from runs where run_id = ?",
            [run_id],
        )
        if row:
            row["created_at"] = str(row["created_at"])[:19]
            rows.append(row)
    return rows


# --------------------------------------------------------------------------
# The audit's tear sheet
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TearSheet:
    """The rendered sections, the number of svg.plot charts in them, and the
    scaled frame with the benchmark's wealth for the equity chart."""

    html: str
    plot_count: int
    scaled_daily: pd.DataFrame


def audit_tearsheet(
    con: duckdb.DuckDBPyConnection,
    baseline_run_id: str,
    scaled_run_id: str,
    baseline_daily: pd.DataFrame,
    scaled_daily: pd.DataFrame,
) -> TearSheet:
    """The tear sheet of a two-pass audit, from the published tables."""
    metrics = {
        "Baseline": load_run_metrics(con, baseline_run_id),
        "Scaled": load_run_metrics(con, scaled_run_id),
    }
    bench = benchmark_metrics(metrics["Scaled"])
    benchmark_daily = load_benchmark_daily(con, scaled_run_id) if bench else pd.DataFrame()
    label = f"Benchmark ({metrics['Scaled']['benchmark_symbol']})" if bench else None
    scaled = scaled_daily.copy()
    if bench and len(benchmark_daily):
        scaled = scaled.merge(
            benchmark_daily[["date", "equity"]].rename(columns={"equity": "benchmark_equity"}),
            on="date",
            how="left",
        )
        scaled.attrs["benchmark_label"] = label
    html = render_sections(
        baseline_daily,
        scaled,
        metrics,
        bench,
        label,
        benchmark_daily,
        load_provenance(con, [baseline_run_id, scaled_run_id]),
    )
    return TearSheet(html, 3, scaled)


def tearsheet_charts(
    books: Sequence[Book],
    periods: Mapping[str, Sequence[DrawdownPeriod]],
    x_domain: tuple[float, float],
) -> list[ChartSpec]:
    """The tear sheet's charts: rolling figures of baseline and scaled, and
    the underwater chart of every book with the scaled run's periods."""
    underwater = underwater_chart([books[1], books[0], *books[2:]], periods["Scaled"], x_domain)
    return [*rolling_charts(books[:2], x_domain), underwater]


def render_sections(
    baseline_daily: pd.DataFrame,
    scaled_daily: pd.DataFrame,
    metrics: Mapping[str, Mapping[str, Any]],
    bench: Mapping[str, Any] | None,
    benchmark_label: str | None,
    benchmark_daily: pd.DataFrame,
    provenance: Sequence[Mapping[str, Any]],
) -> str:
    """The tear-sheet sections of the audit report (three more plots)."""
    books = [
        Book("Baseline", charts.BASELINE_COLOUR, baseline_daily),
        Book("Scaled", charts.SCALED_COLOUR, scaled_daily),
    ]
    if bench is not None and len(benchmark_daily):
        books.append(Book(benchmark_label or "Benchmark", charts.BENCHMARK_COLOUR, benchmark_daily))
    x_domain = charts.date_domain(baseline_daily, scaled_daily) or (0.0, 1.0)
    periods = {
        book.label: drawdown_periods(book.daily["date"], book.daily["drawdown"]) for book in books
    }
    scaled_months = monthly_table(scaled_daily["date"], scaled_daily["portfolio_return"])
    baseline_months = monthly_table(baseline_daily["date"], baseline_daily["portfolio_return"])
    columns = ["Baseline", "Scaled"]
    table_metrics = dict(metrics)
    if bench is not None:
        columns.append(benchmark_label or "Benchmark")
        table_metrics[columns[-1]] = bench
    plots = [charts.plot(*spec) for spec in tearsheet_charts(books, periods, x_domain)]
    yearly_columns, yearly = yearly_rows(books)
    relation = [
        {
            "run": name,
            "beta": charts.format_value(m.get("beta"), "ratio"),
            "correlation": charts.format_value(m.get("correlation"), "ratio"),
            "days": charts.format_value(m.get("benchmark_paired_days"), "count"),
        }
        for name, m in metrics.items()
    ]
    context = {
        "metric_columns": columns,
        "metric_rows": metric_rows(table_metrics, columns, with_delta=True),
        "benchmark_label": benchmark_label,
        "relation": relation if bench is not None else [],
        "heatmaps": [
            {
                "key": "scaled",
                "title": "Monthly returns: scaled",
                "rows": heatmap_rows(scaled_months, "Scaled", HEATMAP_LIMIT),
            },
            {
                "key": "scaled_minus_baseline",
                "title": "Monthly returns: scaled minus baseline",
                "rows": heatmap_rows(
                    scaled_months - baseline_months, "Scaled - baseline", HEATMAP_DIFF_LIMIT
                ),
            },
        ],
        "months": MONTHS,
        "yearly_columns": yearly_columns,
        "yearly_rows": yearly,
        "plots": plots,
        "drawdowns": [{"label": label, "rows": drawdown_rows(p)} for label, p in periods.items()],
        "top_drawdowns": TOP_DRAWDOWNS,
        "provenance": provenance,
        "versions": package_versions(),
        "audit_hover": audit_plot_hover(baseline_daily, scaled_daily, benchmark_label),
    }
    return charts.environment().get_template(SECTIONS_TEMPLATE).render(**context)
