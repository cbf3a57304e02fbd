"""Self-contained HTML report for the Allocator v1 two-pass audit.

The two-pass audit compares a *baseline* run (allocator off) with a *scaled*
run (weights multiplied by the lagged risk scalar). This module turns the
comparison summary plus both daily series into a single HTML file that can be
mailed, archived next to the run artefacts, or opened offline:

* no JavaScript libraries, no fonts, images or stylesheets from the network
  (a Content-Security-Policy forbids them, so a stray URL cannot leak);
* plots are inline SVG (allocator.charts), so the file renders identically in any
  browser and diffs reasonably in review;
* everything is a pure function of its inputs (no clock, no randomness), so the
  same audit always produces byte-identical HTML.

A tiny inline script checks, on load, that every plot drew a visible line and
records the result in ``data-*`` attributes; the headless-browser test reads
them back from the DOM.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from allocator.charts import (
    BASELINE_COLOUR,
    BENCHMARK_COLOUR,
    LINEAR_TICK_TARGET,
    MARKER_KINDS,
    MAX_POINTS_PER_LINE,
    MISSING,
    REGIME_COLOURS,
    REGIME_DD_COLOUR,
    REGIME_ORDER,
    SCALAR_COLOUR,
    SCALED_COLOUR,
    UNKNOWN_REGIME_COLOUR,
    Band,
    Bands,
    Chart,
    Line,
    Marker,
    as_float,
    daily_line,
    date_domain,
    delta_class,
    drawdown_domain,
    environment,
    finite,
    format_delta,
    format_generic,
    format_value,
    has_data,
    humanise,
    nice_ticks,
    pct_tick_formatter,
    prepare_daily,
    regime_segments,
    render_line_chart,
    to_days,
)
from allocator.summary import (
    CONTROL_METRICS,
    EPISODE_HEADER,
    control_exposure,
    control_value,
    episode_cells,
    false_alarm_facts,
)

__all__ = [
    "render_two_pass_html",
    "write_two_pass_html",
]

DEFAULT_TITLE = "Allocator v1 two-pass audit"
TEMPLATE_NAME = "two_pass_comparison.html.j2"

_KNOWN_TOP_LEVEL = {
    "baseline_run_id",
    "scaled_run_id",
    "strategy_profile",
    "start_date",
    "end_date",
    "metrics",
    "scalar_usage",
    "regimes",
    "flags",
    "top_derisk_events",
    "drawdown_episodes",
    "false_alarms",
    "controls",
}

# (key, label, unit) for the scalar-usage cards, in display order.
_SCALAR_USAGE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("rebalances_total", "Rebalances", "count"),
    ("rebalances_scaled", "Rebalances scaled", "count"),
    ("pct_scaled", "Share of rebalances scaled", "pct1"),
    ("scalar_mean", "Mean scalar", "ratio"),
    ("scalar_min", "Min scalar", "ratio"),
    ("scalar_max", "Max scalar", "ratio"),
)

_STATUS_LABELS = {"good": "Good", "warning": "Warning", "failure": "Failure"}
_STATUS_RANK = {"good": 0, "warning": 1, "failure": 2}


def episode_markers(episodes: Any, baseline: pd.DataFrame) -> tuple[Marker, ...]:
    """Each episode's first STRESS/CRISIS day and first earning session, placed
    on the baseline's drawdown curve (dates outside the series are left out)."""
    drawdown = pd.Series(
        pd.to_numeric(baseline["drawdown"], errors="coerce").to_numpy(dtype=float),
        index=pd.DatetimeIndex(baseline["date"]),
    )
    markers = []
    for episode in _list_of_mappings(episodes):
        rank = int(episode.get("episode_rank") or 0)
        for kind, date_key, lag_key, since in (
            ("alarm", "first_alarm_date", "detection_lag_sessions", "the peak"),
            ("earning", "first_earning_date", "delivery_lag_sessions", "the alarm"),
        ):
            value = episode.get(date_key)
            if value is None:
                continue
            date = pd.Timestamp(value)
            if date not in drawdown.index or not math.isfinite(drawdown[date]):
                continue
            tooltip = (
                f"Episode {rank}: {MARKER_KINDS[kind][1]} {date:%Y-%m-%d}, "
                f"{episode.get(lag_key)} sessions after {since}"
            )
            markers.append(
                Marker(
                    float(to_days(pd.Series([date]))[0]),
                    float(drawdown[date]),
                    kind,
                    rank,
                    tooltip,
                )
            )
    return tuple(markers)


# --------------------------------------------------------------------------
# The four audit plots
# --------------------------------------------------------------------------


def _equity_chart(
    baseline: pd.DataFrame,
    scaled: pd.DataFrame,
    x_domain: tuple[float, float],
    regime_bands: Bands = ((), ()),
) -> Chart | None:
    """Wealth of both runs (and of the benchmark when the scaled frame carries
    ``benchmark_equity``) over the regimes; log scale when possible so equal
    returns look equal."""
    candidates = [
        daily_line(baseline, "equity", "Baseline", BASELINE_COLOUR),
        daily_line(scaled, "equity", "Scaled", SCALED_COLOUR),
    ]
    if "benchmark_equity" in scaled.columns:
        label = str(scaled.attrs.get("benchmark_label", "Benchmark"))
        candidates.append(
            daily_line(scaled, "benchmark_equity", label, BENCHMARK_COLOUR, dash="5 3")
        )
    lines = tuple(line for line in candidates if has_data(line))
    if not lines:
        return None
    values = np.concatenate([finite(line.y) for line in lines])
    lo, hi = float(values.min()), float(values.max())
    log_y = lo > 0
    if log_y:
        pad = max((math.log10(hi) - math.log10(lo)) * 0.04, 0.005)
        domain = (10 ** (math.log10(lo) - pad), 10 ** (math.log10(hi) + pad))
        y_label = "Wealth (log scale, start = 1)"
    else:
        pad = max((hi - lo) * 0.04, 0.01)
        domain = (lo - pad, hi + pad)
        y_label = "Wealth (start = 1)"
    return Chart(
        key="equity",
        title="Equity: baseline vs scaled",
        y_label=y_label,
        lines=lines,
        x_domain=x_domain,
        y_domain=domain,
        log_y=log_y,
        reference_y=(1.0,),
        height=340,
        description="Cumulative wealth of the baseline and the risk-scaled run.",
        bands=regime_bands[0],
        extra_legend=regime_bands[1],
    )


def _drawdown_chart(
    baseline: pd.DataFrame, scaled: pd.DataFrame, x_domain: tuple[float, float]
) -> Chart | None:
    """Both drawdown curves; legend carries each MaxDD and the troughs are marked."""
    lines: list[Line] = []
    for frame, label, colour in (
        (baseline, "Baseline", BASELINE_COLOUR),
        (scaled, "Scaled", SCALED_COLOUR),
    ):
        line = daily_line(frame, "drawdown", label, colour, mark_min=True)
        if has_data(line):
            max_dd = format_value(float(np.nanmin(line.y)), "pct")
            lines.append(replace(line, label=f"{label} (max {max_dd})"))
    if not lines:
        return None
    domain = drawdown_domain(lines)
    ticks = nice_ticks(domain[0], domain[1], LINEAR_TICK_TARGET)
    return Chart(
        key="drawdown",
        title="Drawdown: baseline vs scaled",
        y_label="Drawdown from peak",
        lines=tuple(lines),
        x_domain=x_domain,
        y_domain=domain,
        y_format=pct_tick_formatter(ticks),
        height=300,
        description="Drawdown from the running peak for both runs; dots mark the troughs.",
    )


def _bands(scaled: pd.DataFrame) -> Bands:
    """Regime bands and the matching legend entries (only regimes that occur)."""
    if "regime" not in scaled.columns or not len(scaled):
        return (), ()
    segments = regime_segments(scaled["date"], scaled["regime"])
    starts = to_days(pd.Series([s.start for s in segments], dtype="datetime64[ns]"))
    ends = to_days(pd.Series([s.end for s in segments], dtype="datetime64[ns]"))
    bands = tuple(
        Band(
            float(x0),
            float(x1),
            seg.regime,
            f"{seg.regime}: {seg.start:%Y-%m-%d} to {seg.end:%Y-%m-%d}",
        )
        for seg, x0, x1 in zip(segments, starts, ends, strict=True)
    )
    present = {seg.regime for seg in segments}
    ordered = [r for r in REGIME_ORDER if r in present] + sorted(present - set(REGIME_ORDER))
    legend = tuple(
        (regime.capitalize(), REGIME_COLOURS.get(regime, UNKNOWN_REGIME_COLOUR))
        for regime in ordered
    )
    return bands, legend


def _risk_scalar_chart(
    scaled: pd.DataFrame, x_domain: tuple[float, float], regime_bands: Bands
) -> Chart | None:
    """The applied risk scalar on a fixed 0-1 axis, over regime bands."""
    if "risk_scalar" not in scaled.columns:
        return None
    line = daily_line(scaled, "risk_scalar", "Risk scalar", SCALAR_COLOUR, width=1.8)
    if not has_data(line):
        return None
    bands, legend = regime_bands
    top = max(1.05, float(np.nanmax(line.y)) * 1.05)
    return Chart(
        key="risk_scalar",
        title="Risk scalar over time, with regime bands",
        y_label="Risk scalar",
        lines=(line,),
        x_domain=x_domain,
        y_domain=(0.0, top),
        fixed_y_ticks=(0.0, 0.25, 0.5, 0.75, 1.0),
        bands=bands,
        reference_y=(1.0,),
        extra_legend=legend,
        height=260,
        description="Scalar applied to the weights (1 = fully invested) over regime bands.",
    )


def _regime_drawdown_chart(
    baseline: pd.DataFrame, x_domain: tuple[float, float], regime_bands: Bands
) -> Chart | None:
    """Baseline drawdown over the regimes: does the classifier fire when it hurts?"""
    bands, legend = regime_bands
    if not bands:
        return None
    line = daily_line(baseline, "drawdown", "Baseline drawdown", REGIME_DD_COLOUR)
    if not has_data(line):
        return None
    domain = drawdown_domain([line])
    ticks = nice_ticks(domain[0], domain[1], LINEAR_TICK_TARGET)
    return Chart(
        key="regime_drawdown",
        title="Regimes vs baseline drawdown",
        y_label="Baseline drawdown",
        lines=(line,),
        x_domain=x_domain,
        y_domain=domain,
        y_format=pct_tick_formatter(ticks),
        bands=bands,
        extra_legend=legend,
        height=280,
        description="Baseline drawdown with the regime classification as background bands.",
    )


def _with_markers(chart: Chart | None, markers: tuple[Marker, ...]) -> Chart | None:
    if chart is None or not markers:
        return chart
    return replace(
        chart,
        markers=markers,
        description=f"{chart.description} Triangles mark each episode's first STRESS/CRISIS "
        "day, diamonds the first session earning a scalar decided after it.",
    )


def build_plots(
    baseline: pd.DataFrame, scaled: pd.DataFrame, episodes: Any = None
) -> list[tuple[str, str]]:
    """All plots that the data supports, as ``(key, svg)`` pairs in page order;
    ``episodes`` (two_pass_drawdown_episodes rows) adds markers to the drawdown plot."""
    x_domain = date_domain(baseline, scaled)
    if x_domain is None:
        return []
    regime_bands = _bands(scaled)  # shared by both regime plots; uses every day
    charts = (
        _equity_chart(baseline, scaled, x_domain, regime_bands),
        _with_markers(
            _drawdown_chart(baseline, scaled, x_domain), episode_markers(episodes, baseline)
        ),
        _risk_scalar_chart(scaled, x_domain, regime_bands),
        _regime_drawdown_chart(baseline, x_domain, regime_bands),
    )
    return [(chart.key, render_line_chart(chart)) for chart in charts if chart is not None]


# --------------------------------------------------------------------------
# Table contexts
# --------------------------------------------------------------------------


def _list_of_mappings(value: Any) -> list[Mapping[str, Any]]:
    """Accept list-of-dicts sections (and DataFrames, which callers may pass)."""
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [row for row in value if isinstance(row, Mapping)]
    return []


def _metric_rows(metrics: Any) -> list[dict[str, str]]:
    rows = []
    for metric in _list_of_mappings(metrics):
        unit = str(metric.get("unit") or "pct")
        rows.append(
            {
                "metric": str(metric.get("metric", "")),
                "baseline": format_value(metric.get("baseline"), unit),
                "scaled": format_value(metric.get("scaled"), unit),
                "delta": format_delta(metric.get("delta"), unit),
                "delta_class": delta_class(metric),
            }
        )
    return rows


def _scalar_usage_cards(usage: Any) -> list[dict[str, str]]:
    if not isinstance(usage, Mapping):
        return []
    cards = [
        {"label": label, "value": format_value(usage[key], unit)}
        for key, label, unit in _SCALAR_USAGE_FIELDS
        if key in usage
    ]
    known = {key for key, _, _ in _SCALAR_USAGE_FIELDS}
    cards += [
        {"label": humanise(key), "value": format_generic(key, value)}
        for key, value in usage.items()
        if key not in known
    ]
    return cards


def _regime_rows(regimes: Any) -> list[dict[str, str]]:
    rows = _list_of_mappings(regimes)
    order = {name: i for i, name in enumerate(REGIME_ORDER)}
    rows = sorted(rows, key=lambda r: order.get(str(r.get("regime", "")).upper(), len(order)))
    out = []
    for row in rows:
        regime = str(row.get("regime", "")).upper()
        pct = as_float(row.get("pct"))
        out.append(
            {
                "regime": regime,
                "colour": REGIME_COLOURS.get(regime, UNKNOWN_REGIME_COLOUR),
                "days": format_value(row.get("days"), "count"),
                "pct": format_value(pct, "pct1"),
                "bar": f"{max(0.0, min(pct or 0.0, 1.0)) * 100:.1f}",
                "longest_run_days": format_value(row.get("longest_run_days"), "count"),
            }
        )
    return out


def flag_rows(flags: Any) -> list[dict[str, str]]:
    out = []
    for flag in _list_of_mappings(flags):
        status = str(flag.get("status", "")).strip().lower()
        out.append(
            {
                "code": str(flag.get("flag", "")),
                "name": humanise(str(flag.get("flag", ""))),
                "status": status if status in _STATUS_LABELS else "unknown",
                "status_label": _STATUS_LABELS.get(status, status.capitalize() or "Unknown"),
                "detail": str(flag.get("detail", "") or ""),
            }
        )
    return out


def _verdict(flag_rows: Sequence[Mapping[str, str]]) -> dict[str, str] | None:
    """One-line summary of the flags so the worst outcome is visible first."""
    if not flag_rows:
        return None
    counts = {s: sum(1 for f in flag_rows if f["status"] == s) for s in _STATUS_LABELS}
    worst = max((f["status"] for f in flag_rows), key=lambda s: _STATUS_RANK.get(s, 1))
    if counts["failure"]:
        text = f"{counts['failure']} failure(s), {counts['warning']} warning(s)"
    elif counts["warning"]:
        text = f"{counts['warning']} warning(s), {counts['good']} check(s) passed"
    else:
        text = f"All {len(flag_rows)} check(s) passed"
    return {"status": worst if worst in _STATUS_LABELS else "warning", "text": text}


def headline(
    comparison: Mapping[str, Any], flag_rows: Sequence[Mapping[str, str]]
) -> dict[str, str] | None:
    """The report's one-line verdict: the worst flag, the drawdown and Sharpe
    moves, and timing_skill (does the governor beat a leverage cut)."""
    verdict = _verdict(flag_rows)
    if verdict is None:
        return None
    moves = []
    for row in _list_of_mappings(comparison.get("metrics")):
        label = str(row.get("metric", ""))
        if label in ("MaxDD", "Sharpe"):
            unit = row.get("unit") or "pct"
            moves.append(
                f"{label} {format_value(row.get('baseline'), unit)} → "
                f"{format_value(row.get('scaled'), unit)}"
            )
    timing = next((f for f in flag_rows if f["code"] == "timing_skill"), None)
    parts = [*moves]
    if timing is not None:
        parts.append(f"timing_skill {timing['status_label'].lower()}")
    parts.append(verdict["text"].lower() if parts else verdict["text"])
    return {"status": verdict["status"], "text": "; ".join(parts)}


def contents(html: str) -> list[dict[str, str]]:
    """The report's contents list: the known sections present in ``html``, in order."""
    from allocator.report_book import SECTION_TITLES

    present = []
    for section, title in SECTION_TITLES:
        anchor = section
        if section == "plots":
            match = re.search(r'id="(plot-[a-z_-]+)"', html)
            if match is None:
                continue
            anchor = match.group(1)
        elif section == "regimes":
            anchor = next((a for a in ("regimes", "derisk-events") if f'id="{a}"' in html), "")
            if not anchor:
                continue
        elif f'id="{section}"' not in html:
            continue
        present.append({"id": anchor, "title": title})
    return present


def _control_rows(controls: Any) -> list[dict[str, Any]]:
    """The controls table: each book's exposure, six metrics and whether the
    governor beats it (strictly better MaxDD / Sharpe)."""
    rows = []
    for row in _list_of_mappings(controls):
        marks = [row.get("governor_beats_max_drawdown"), row.get("governor_beats_sharpe")]
        rows.append(
            {
                "book": str(row.get("book", "")),
                "label": str(row.get("book_label", "")),
                "exposure": control_exposure(row),
                "values": [
                    MISSING if row.get(key) is None else control_value(row.get(key), unit)
                    for key, _, unit in CONTROL_METRICS
                ],
                "beats": [
                    {"text": MISSING, "cls": ""}
                    if mark is None
                    else {"text": "yes" if mark else "no", "cls": "better" if mark else "worse"}
                    for mark in marks
                ],
            }
        )
    return rows


def _event_rows(events: Any) -> tuple[list[str], list[list[dict[str, str]]]]:
    """Top de-risk events; known columns first, any extra columns (notes) after."""
    rows = _list_of_mappings(events)
    if not rows:
        return [], []
    known = ["date", "scalar", "regime"]
    extras: list[str] = []
    for row in rows:
        extras += [k for k in row if k not in known and k not in extras]
    columns = [c for c in known if any(c in r for r in rows)] + extras
    body = []
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            if col == "scalar":
                cells.append({"text": format_value(value, "ratio"), "cls": "num"})
            elif col == "regime" and value is not None:
                regime = str(value).upper()
                colour = REGIME_COLOURS.get(regime, UNKNOWN_REGIME_COLOUR)
                cells.append({"text": regime, "cls": "", "colour": colour})
            elif col == "date":
                cells.append({"text": _date_text(value), "cls": "date"})
            else:
                cells.append({"text": format_generic(col, value), "cls": ""})
        body.append(cells)
    return [humanise(c) for c in columns], body


def _date_text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return str(value)[:10] if hasattr(value, "isoformat") else str(value)


def _other_sections(comparison: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[dict]]:
    """Unknown keys: scalars go into the header facts, lists of dicts become tables."""
    facts, tables = [], []
    for key, value in comparison.items():
        if key in _KNOWN_TOP_LEVEL:
            continue
        rows = _list_of_mappings(value)
        if rows:
            columns: list[str] = []
            for row in rows:
                columns += [k for k in row if k not in columns]
            tables.append(
                {
                    "title": humanise(key),
                    "columns": [humanise(c) for c in columns],
                    "rows": [[format_generic(c, r.get(c)) for c in columns] for r in rows],
                }
            )
        elif isinstance(value, Mapping):
            facts += [
                {"label": f"{humanise(key)}: {humanise(k)}", "value": format_generic(k, v)}
                for k, v in value.items()
            ]
        else:
            facts.append({"label": humanise(key), "value": format_generic(key, value)})
    return facts, tables


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def render_two_pass_html(
    comparison: Mapping[str, Any],
    baseline_daily: pd.DataFrame,
    scaled_daily: pd.DataFrame,
    title: str = DEFAULT_TITLE,
    extra_sections: str = "",
    extra_plots: int = 0,
) -> str:
    """Render the two-pass audit as one self-contained HTML page.

    ``comparison`` is the summary dict of the audit (metrics, scalar usage,
    regimes, flags, top de-risk events); any section may be missing and is then
    left out. ``baseline_daily`` and ``scaled_daily`` need ``date``,
    ``portfolio_return``, ``equity`` and ``drawdown``; ``scaled_daily`` may add
    ``risk_scalar`` and ``regime`` for the scalar and regime plots.
    ``extra_sections`` is ready, escaped HTML placed after the plots (the tear
    sheet, allocator.tearsheet) holding ``extra_plots`` more svg.plot charts.
    """
    required = ("date", "equity", "drawdown")
    baseline = prepare_daily(baseline_daily, "baseline_daily", required)
    scaled = prepare_daily(scaled_daily, "scaled_daily", required)
    plots = build_plots(baseline, scaled, comparison.get("drawdown_episodes"))
    flags = flag_rows(comparison.get("flags"))
    event_columns, event_rows = _event_rows(comparison.get("top_derisk_events"))
    facts, other_tables = _other_sections(comparison)
    start = comparison.get("start_date")
    end = comparison.get("end_date")
    context = {
        "title": str(title),
        "baseline_run_id": _optional_text(comparison.get("baseline_run_id")),
        "scaled_run_id": _optional_text(comparison.get("scaled_run_id")),
        "strategy_profile": _optional_text(comparison.get("strategy_profile")),
        "period": (
            f"{_date_text(start) if start is not None else '…'} to "
            f"{_date_text(end) if end is not None else '…'}"
            if start is not None or end is not None
            else None
        ),
        "facts": facts,
        "headline": headline(comparison, flags),
        "contents": [],
        "verdict": _verdict(flags),
        "flags": flags,
        "metrics": _metric_rows(comparison.get("metrics")),
        "scalar_usage": _scalar_usage_cards(comparison.get("scalar_usage")),
        "regimes": _regime_rows(comparison.get("regimes")),
        "event_columns": event_columns,
        "events": event_rows,
        "other_tables": other_tables,
        "episode_header": EPISODE_HEADER,
        "episodes": [
            episode_cells(e) for e in _list_of_mappings(comparison.get("drawdown_episodes"))
        ],
        "episode_cadence": next(
            (e.get("cadence") for e in _list_of_mappings(comparison.get("drawdown_episodes"))), None
        ),
        "false_alarms": false_alarm_facts(comparison["false_alarms"])
        if isinstance(comparison.get("false_alarms"), Mapping)
        else [],
        "controls": _control_rows(comparison.get("controls")),
        "control_metrics": [label for _, label, _ in CONTROL_METRICS],
        # SVG is built in this module with every piece of text escaped.
        "plots": [{"key": key, "svg": Markup(svg)} for key, svg in plots],
        "n_plots": len(plots) + extra_plots,
        # built and escaped by its renderer (allocator.tearsheet)
        "extra_sections": Markup(extra_sections),
        "n_days_baseline": len(baseline),
        "n_days_scaled": len(scaled),
        "max_points": f"{MAX_POINTS_PER_LINE:,}",
    }
    template = environment().get_template(TEMPLATE_NAME)
    # the contents list links the sections the page holds: render, look, render
    context["contents"] = contents(template.render(**context))
    return template.render(**context)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def write_two_pass_html(
    path: Path,
    comparison: Mapping[str, Any],
    baseline_daily: pd.DataFrame,
    scaled_daily: pd.DataFrame,
    title: str = DEFAULT_TITLE,
    extra_sections: str = "",
    extra_plots: int = 0,
) -> Path:
    """Render and write the report (UTF-8), creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        render_two_pass_html(
            comparison,
            baseline_daily,
            scaled_daily,
            title=title,
            extra_sections=extra_sections,
            extra_plots=extra_plots,
        ),
        encoding="utf-8",
    )
    return path
