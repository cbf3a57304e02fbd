"""Self-contained HTML report for the Allocator v1 two-pass audit.

The two-pass audit compares a *baseline* run (allocator off) with a *scaled*
run (weights multiplied by the lagged risk scalar). This module turns the
comparison summary plus both daily series into a single HTML file that can be
mailed, archived next to the run artefacts, or opened offline:

* no JavaScript libraries, no fonts, images or stylesheets from the network
  (a Content-Security-Policy forbids them, so a stray URL cannot leak);
* plots are inline SVG generated here, so the file renders identically in any
  browser and diffs reasonably in review;
* everything is a pure function of its inputs (no clock, no randomness), so the
  same audit always produces byte-identical HTML.

A tiny inline script checks, on load, that every plot drew a visible line and
records the result in ``data-*`` attributes; the headless-browser test reads
them back from the DOM.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from allocator.summary import (
    CONTROL_METRICS,
    EPISODE_HEADER,
    control_exposure,
    control_value,
    episode_cells,
    false_alarm_facts,
)

__all__ = [
    "MAX_POINTS_PER_LINE",
    "REGIME_COLOURS",
    "RegimeSegment",
    "decimate_positions",
    "format_delta",
    "format_value",
    "regime_segments",
    "render_two_pass_html",
    "write_two_pass_html",
]

DEFAULT_TITLE = "Allocator v1 two-pass audit"
TEMPLATE_NAME = "two_pass_comparison.html.j2"

#: Upper bound of drawn points per line. 1,500 points is more than the pixel
#: width of the plots, so the curves look the same as with all ~8,000 days while
#: keeping each report well under 200 kB.
MAX_POINTS_PER_LINE = 1500

REGIME_ORDER: tuple[str, ...] = ("NORMAL", "ELEVATED", "STRESS", "CRISIS")
#: Band colours per regime (drawn with ``BAND_OPACITY`` so the lines stay readable).
REGIME_COLOURS: dict[str, str] = {
    "NORMAL": "#2f9e44",
    "ELEVATED": "#f2c200",
    "STRESS": "#f08c00",
    "CRISIS": "#e03131",
}
UNKNOWN_REGIME_COLOUR = "#868e96"
BAND_OPACITY = 0.2

BASELINE_COLOUR = "#868e96"
SCALED_COLOUR = "#1c7ed6"
SCALAR_COLOUR = "#1b2a41"
REGIME_DD_COLOUR = "#343a40"
ALARM_MARKER_COLOUR = "#e03131"
EARNING_MARKER_COLOUR = "#1c7ed6"
BENCHMARK_COLOUR = "#ae3ec9"

# Plot geometry in SVG user units; the SVG scales to the page width.
PLOT_WIDTH = 1100
MARGIN_LEFT = 72
MARGIN_RIGHT = 24
MARGIN_TOP = 46
MARGIN_BOTTOM = 34
LINEAR_TICK_TARGET = 6  # at most this many value ticks: -50% to 0% gets 10% steps
CHAR_WIDTH = 6.6  # rough advance of a 12px sans-serif glyph, for legend layout

_EPOCH = pd.Timestamp("1970-01-01")
_MISSING = "\u2013"  # en dash for "no value"

# Which direction counts as an improvement of the scaled run over the baseline.
# Keys are lower-cased metric names; unknown metrics are shown without colour.
_HIGHER_IS_BETTER: dict[str, bool] = {
    "cagr": True,
    "return": True,
    "ann return": True,
    "ann vol": False,
    "annualized volatility": False,
    "vol": False,
    "volatility": False,
    "sharpe": True,
    "sortino": True,
    "calmar": True,
    "maxdd": True,
    "max dd": True,
    "max drawdown": True,
    "worst month": True,
    "worst quarter": True,
    "worst day": True,
}

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


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def _as_float(value: Any) -> float | None:
    """Coerce to float, mapping None/NaN/non-numeric to None so callers print a dash."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def format_value(value: Any, unit: str | None = "pct") -> str:
    """Format a metric value for the tables.

    ``pct`` values are fractions (``-0.1532`` -> ``-15.32%``) because that is how
    the SQL models store them; ``ratio`` (Sharpe, scalars) keeps two decimals.
    Missing values render as an en dash instead of ``nan``.
    """
    if isinstance(value, str):
        return value
    number = _as_float(value)
    if number is None:
        return _MISSING
    unit = (unit or "").lower()
    if unit in {"pct", "percent", "%"}:
        return f"{number * 100:.2f}%"
    if unit == "pct1":
        return f"{number * 100:.1f}%"
    if unit in {"ratio", "x"}:
        return f"{number:.2f}"
    if unit in {"count", "days", "int"}:
        return f"{round(number):,}"
    return f"{number:.4g}"


def format_delta(value: Any, unit: str | None = "pct") -> str:
    """Format a scaled-minus-baseline delta with an explicit sign.

    Percentage deltas follow the Stage 5.5 report format (``+3.22%``, i.e.
    percentage points), so the HTML matches the markdown comparison report.
    """
    number = _as_float(value)
    if number is None:
        return _MISSING
    unit = (unit or "").lower()
    if unit in {"pct", "percent", "%"}:
        return f"{number * 100:+.2f}%"
    if unit in {"ratio", "x"}:
        return f"{number:+.2f}"
    if unit in {"count", "days", "int"}:
        return f"{round(number):+,}"
    return f"{number:+.4g}"


def _delta_class(metric: Mapping[str, Any]) -> str:
    """CSS class saying whether the delta is an improvement, so colour is meaningful."""
    delta = _as_float(metric.get("delta"))
    if delta is None or abs(delta) < 1e-12:
        return "neutral"
    higher_is_better = metric.get("higher_is_better")
    if higher_is_better is None:
        higher_is_better = _HIGHER_IS_BETTER.get(str(metric.get("metric", "")).strip().lower())
    if higher_is_better is None:
        return "neutral"
    return "better" if (delta > 0) == bool(higher_is_better) else "worse"


def _humanise(key: str) -> str:
    """Turn a snake_case key into a label for keys this module does not know."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _format_generic(key: str, value: Any) -> str:
    """Best-effort formatting of an unknown field, guessing the unit from its name."""
    if isinstance(value, bool) or value is None:
        return _MISSING if value is None else str(value)
    if isinstance(value, int | float):
        name = key.lower()
        if name.startswith("pct") or name.endswith("pct") or "share" in name:
            return format_value(value, "pct1")
        if name.endswith("days") or name.startswith("n_") or "count" in name:
            return format_value(value, "count")
        if isinstance(value, int):
            return f"{value:,}"
        return format_value(value, "ratio")
    return str(value)


# --------------------------------------------------------------------------
# Series preparation
# --------------------------------------------------------------------------


def _to_days(dates: pd.Series) -> np.ndarray:
    """Dates as float days since the epoch: a resolution-independent x coordinate.

    pandas 3 keeps second/ms/us resolutions, so ``astype('int64')`` would change
    meaning with the input; subtracting a Timestamp does not.
    """
    return ((dates - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def _days_to_timestamp(days: float) -> pd.Timestamp:
    return _EPOCH + pd.Timedelta(days=days)


def _prepare_daily(frame: pd.DataFrame, name: str, required: Sequence[str]) -> pd.DataFrame:
    """Validate columns, normalise dates to tz-naive datetimes and sort by date.

    Raises early with the missing column names: a report silently missing a curve
    is worse than a clear error in the audit pipeline.
    """
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")
    out = frame.copy()
    dates = pd.to_datetime(out["date"])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    out["date"] = dates
    out = out[out["date"].notna()].sort_values("date", kind="stable").reset_index(drop=True)
    return out


def decimate_positions(values: Sequence[float] | np.ndarray, max_points: int) -> np.ndarray:
    """Positions of the points to draw for one line, at most ``max_points`` of them.

    Why a plain stride (every k-th day) rather than LTTB or min/max binning: it is
    trivial to reason about, keeps the points evenly spaced in time and, at 1,500
    points for a ~1,000 px wide plot, equity and drawdown curves look identical to
    the full series. The one thing a stride can lose is an extreme, and the reader
    compares the trough of the drawdown plot with MaxDD in the metrics table, so
    the first and last points and the global minimum and maximum (NaNs ignored)
    are always kept. Returns sorted, unique integer positions.
    """
    if max_points < 4:
        raise ValueError("max_points must be at least 4 (first, last, min and max)")
    arr = np.asarray(values, dtype=float)
    n = arr.size
    if n <= max_points:
        return np.arange(n)
    # Reserve three slots for last, min and max; position 0 is part of the stride.
    step = math.ceil(n / (max_points - 3))
    keep = [np.arange(0, n, step), np.array([n - 1])]
    if np.isfinite(arr).any():
        keep.append(np.array([np.nanargmin(arr), np.nanargmax(arr)]))
    return np.unique(np.concatenate(keep)).astype(int)


class RegimeSegment(NamedTuple):
    """One contiguous run of a single regime, for a background band."""

    start: pd.Timestamp
    end: pd.Timestamp
    regime: str


def _normalise_regimes(regimes: pd.Series) -> np.ndarray:
    """Upper-cased regime labels with nulls as None, so equality comparison is exact."""
    values = regimes.to_numpy(dtype=object)
    nulls = pd.isna(regimes).to_numpy()
    return np.array(
        [None if null else str(v).strip().upper() for v, null in zip(values, nulls, strict=True)],
        dtype=object,
    )


def regime_segments(dates: pd.Series, regimes: pd.Series) -> list[RegimeSegment]:
    """Contiguous regime runs from a *full* (undecimated) daily series.

    Bands are computed before decimation so their edges are exact to the day.
    Each segment ends where the next one starts (the last ends on the last date)
    so adjacent bands tile without hairline gaps. Null regimes (the warm-up before
    the classifier has history) get no band. ``dates`` must be sorted.
    """
    if len(dates) == 0:
        return []
    labels = _normalise_regimes(regimes)
    day_values = pd.to_datetime(dates).reset_index(drop=True)
    change = np.ones(labels.size, dtype=bool)
    change[1:] = labels[1:] != labels[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], labels.size - 1)
    return [
        RegimeSegment(day_values.iloc[s], day_values.iloc[e], labels[s])
        for s, e in zip(starts, ends, strict=True)
        if labels[s] is not None
    ]


# --------------------------------------------------------------------------
# Axes and ticks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    """Map data values to pixels; ``log`` uses log10 spacing (values must be > 0)."""

    lo: float
    hi: float
    px_lo: float
    px_hi: float
    log: bool = False

    def _t(self, v: np.ndarray | float) -> np.ndarray | float:
        return np.log10(v) if self.log else v

    def __call__(self, v: np.ndarray | float) -> np.ndarray | float:
        t_lo, t_hi = self._t(self.lo), self._t(self.hi)
        span = (t_hi - t_lo) or 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.px_lo + (self._t(v) - t_lo) / span * (self.px_hi - self.px_lo)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round-number ticks (steps of 1, 2, 2.5 or 5 x 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for mult in (1, 2, 2.5, 5, 10):
        step = mult * magnitude
        if (hi - lo) / step <= target:
            break
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def log_ticks(lo: float, hi: float, scale: _Scale, min_gap_px: float = 24) -> list[float]:
    """Ticks for a log axis: 1x10^k first, then 2 and 5, then finer mantissas.

    Candidates are added tier by tier only where they keep ``min_gap_px`` from the
    ticks already chosen, so short ranges (wealth 0.8 to 2.5) still get several
    labels while long ranges do not crowd.
    """
    tiers = ((1.0,), (2.0, 5.0), (1.5, 3.0, 4.0, 6.0, 8.0), (1.2, 2.5, 7.0))
    chosen: list[float] = []
    for tier in tiers:
        for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
            for mantissa in tier:
                value = round(mantissa * 10**k, 12)
                if not lo <= value <= hi:
                    continue
                px = float(scale(value))
                if all(abs(px - float(scale(c))) >= min_gap_px for c in chosen):
                    chosen.append(value)
    if len(chosen) < 2:
        return nice_ticks(lo, hi, 4)
    return sorted(chosen)


def date_ticks(start: pd.Timestamp, end: pd.Timestamp, max_ticks: int = 10) -> list[pd.Timestamp]:
    """Year ticks (every 1, 2, 5... years) for multi-year runs, month ticks otherwise."""
    if end <= start:
        return [start]
    if end.year - start.year >= 3:
        for step in (1, 2, 5, 10, 20, 25, 50, 100):
            first = math.ceil(start.year / step) * step
            ticks = [pd.Timestamp(year=y, month=1, day=1) for y in range(first, end.year + 1, step)]
            ticks = [t for t in ticks if start <= t <= end]
            if len(ticks) <= max_ticks:
                return ticks
    months = pd.date_range(start.normalize(), end, freq="MS")
    months = [m for m in months if m >= start]
    for step in (1, 2, 3, 6, 12):
        ticks = [m for m in months if (m.month - 1) % step == 0]
        if len(ticks) <= max_ticks:
            return ticks or [start, end]
    return [start, end]


def _date_label(tick: pd.Timestamp, ticks: Sequence[pd.Timestamp]) -> str:
    """Year only when all ticks are 1 January, otherwise year-month."""
    if all(t.month == 1 and t.day == 1 for t in ticks):
        return str(tick.year)
    return tick.strftime("%Y-%m")


def _pct_tick_formatter(ticks: Sequence[float]) -> Callable[[float], str]:
    """Percent labels with just enough decimals to tell neighbouring ticks apart."""
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False) if b != a]
    step_pct = min(steps) * 100 if steps else 1.0
    decimals = max(0, -math.floor(math.log10(step_pct))) if step_pct > 0 else 0
    if round(step_pct * 10**decimals, 6) % 1:  # e.g. a 2.5% step needs one more decimal
        decimals += 1
    decimals = min(decimals, 3)
    return lambda v: f"{v * 100:.{decimals}f}%"


def _plain_tick(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------
# SVG line charts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    label: str
    colour: str
    x: np.ndarray  # days since epoch
    y: np.ndarray
    width: float = 1.6
    dash: str | None = None
    mark_min: bool = False


@dataclass(frozen=True)
class _Band:
    x0: float
    x1: float
    regime: str
    tooltip: str


@dataclass(frozen=True)
class _Marker:
    """A dated point on a chart: a down triangle (alarm) or a diamond (earning)."""

    x: float  # days since epoch
    y: float
    kind: str  # "alarm" or "earning"
    episode: int
    tooltip: str


@dataclass(frozen=True)
class _Chart:
    key: str
    title: str
    y_label: str
    lines: tuple[_Line, ...]
    x_domain: tuple[float, float]
    y_domain: tuple[float, float]
    log_y: bool = False
    y_format: Callable[[float], str] | None = None
    fixed_y_ticks: tuple[float, ...] | None = None
    bands: tuple[_Band, ...] = ()
    reference_y: tuple[float, ...] = ()
    height: int = 300
    description: str = ""
    extra_legend: tuple[tuple[str, str], ...] = ()
    markers: tuple[_Marker, ...] = ()


_Bands = tuple[tuple[_Band, ...], tuple[tuple[str, str], ...]]


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _path_d(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data; non-finite points break the line instead of dropping to zero."""
    parts: list[str] = []
    pen_down = False
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return "".join(parts)


def _legend_svg(chart: _Chart, right: float, y: float) -> str:
    """Right-aligned legend row above the plot area, so it never hides data."""
    items: list[tuple[str, str, str]] = [
        ("line", line.colour, line.label) for line in chart.lines
    ] + [("band", colour, label) for label, colour in chart.extra_legend]
    widths = [28 + len(label) * CHAR_WIDTH + 16 for _, _, label in items]
    x = right - sum(widths)
    out = ['<g class="legend">']
    for (kind, colour, label), width in zip(items, widths, strict=True):
        if kind == "line":
            out.append(
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 20:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{colour}" stroke-width="2.5"/>'
            )
        else:
            out.append(
                f'<rect x="{x + 2:.1f}" y="{y - 10:.1f}" width="16" height="12" rx="2" '
                f'fill="{colour}" fill-opacity="{BAND_OPACITY * 2.5:.2f}"/>'
            )
        out.append(f'<text x="{x + 26:.1f}" y="{y:.1f}">{_esc(label)}</text>')
        x += width
    out.append("</g>")
    return "".join(out)


def render_line_chart(chart: _Chart) -> str:
    """Render one chart as an ``<svg class="plot">`` string.

    Geometry is in a fixed 1100-unit-wide viewBox and the SVG is scaled by CSS,
    which keeps axis text proportional and the output independent of the viewer.
    """
    width, height = PLOT_WIDTH, chart.height
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    x_scale = _Scale(chart.x_domain[0], chart.x_domain[1], left, right)
    y_scale = _Scale(chart.y_domain[0], chart.y_domain[1], bottom, top, log=chart.log_y)

    if chart.fixed_y_ticks is not None:
        y_ticks = list(chart.fixed_y_ticks)
    elif chart.log_y:
        y_ticks = log_ticks(chart.y_domain[0], chart.y_domain[1], y_scale)
    else:
        y_ticks = nice_ticks(chart.y_domain[0], chart.y_domain[1], LINEAR_TICK_TARGET)
    y_ticks = [t for t in y_ticks if chart.y_domain[0] <= t <= chart.y_domain[1]]
    y_fmt = chart.y_format or _plain_tick

    start = _days_to_timestamp(chart.x_domain[0])
    end = _days_to_timestamp(chart.x_domain[1])
    x_ticks = date_ticks(start, end)

    title_id = f"plot-{chart.key}-title"
    desc_id = f"plot-{chart.key}-desc"
    out: list[str] = [
        f'<svg class="plot" data-plot="{_esc(chart.key)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{title_id} {desc_id}">',
        f'<title id="{title_id}">{_esc(chart.title)}</title>',
        f'<desc id="{desc_id}">{_esc(chart.description)}</desc>',
        f'<text class="plot-title" x="{left}" y="20">{_esc(chart.title)}</text>',
        _legend_svg(chart, right, 20),
    ]

    # Regime bands sit under everything else.
    if chart.bands:
        out.append('<g class="bands">')
        for band in chart.bands:
            x0 = float(x_scale(band.x0))
            x1 = float(x_scale(band.x1))
            colour = REGIME_COLOURS.get(band.regime, UNKNOWN_REGIME_COLOUR)
            out.append(
                f'<rect class="band" data-regime="{_esc(band.regime)}" x="{x0:.1f}" '
                f'y="{top}" width="{max(x1 - x0, 0.6):.1f}" height="{bottom - top}" '
                f'fill="{colour}" fill-opacity="{BAND_OPACITY}">'
                f"<title>{_esc(band.tooltip)}</title></rect>"
            )
        out.append("</g>")

    # Grid and axes.
    out.append('<g class="grid">')
    for tick in y_ticks:
        py = float(y_scale(tick))
        out.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>')
    for tick in x_ticks:
        px = float(x_scale(_to_days(pd.Series([tick]))[0]))
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}"/>')
    out.append("</g>")
    for ref in chart.reference_y:
        if chart.y_domain[0] <= ref <= chart.y_domain[1]:
            py = float(y_scale(ref))
            out.append(
                f'<line class="reference" x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
            )
    out.append(
        f'<g class="axis"><line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/></g>'
    )
    out.append('<g class="ticks y-ticks" text-anchor="end">')
    for tick in y_ticks:
        py = float(y_scale(tick))
        out.append(f'<text x="{left - 8}" y="{py + 4:.1f}">{_esc(y_fmt(tick))}</text>')
    out.append("</g>")
    out.append('<g class="ticks x-ticks" text-anchor="middle">')
    for tick in x_ticks:
        px = float(x_scale(_to_days(pd.Series([tick]))[0]))
        out.append(
            f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 5}"/>'
            f'<text x="{px:.1f}" y="{bottom + 19}">{_esc(_date_label(tick, x_ticks))}</text>'
        )
    out.append("</g>")
    mid_y = (top + bottom) / 2
    out.append(
        f'<text class="axis-label" x="22" y="{mid_y:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 22 {mid_y:.1f})">{_esc(chart.y_label)}</text>'
    )

    # Data lines last so they sit on top.
    for line in chart.lines:
        positions = decimate_positions(line.y, MAX_POINTS_PER_LINE)
        xs = np.asarray(x_scale(line.x[positions]), dtype=float)
        ys = np.asarray(y_scale(line.y[positions]), dtype=float)
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        out.append(
            f'<path class="series" data-series="{_esc(line.label)}" '
            f'data-points="{positions.size}" d="{_path_d(xs, ys)}" fill="none" '
            f'stroke="{line.colour}" stroke-width="{line.width}" stroke-linejoin="round"{dash}/>'
        )
        if line.mark_min and np.isfinite(line.y).any():
            i = int(np.nanargmin(line.y))
            out.append(
                f'<circle class="trough" cx="{float(x_scale(line.x[i])):.1f}" '
                f'cy="{float(y_scale(line.y[i])):.1f}" r="3.5" fill="{line.colour}" '
                f'stroke="#fff" stroke-width="1"/>'
            )
    out.append(_markers_svg(chart, x_scale, y_scale))
    out.append("</svg>")
    return "".join(out)


_MARKER_KINDS = {
    "alarm": (ALARM_MARKER_COLOUR, "first STRESS/CRISIS day"),
    "earning": (EARNING_MARKER_COLOUR, "first session earning a scalar decided after it"),
}


def _marker_shape(kind: str, x: float, y: float) -> str:
    """An alarm points down at (x, y) from above; an earning hangs below it."""
    colour = _MARKER_KINDS[kind][0]
    if kind == "alarm":
        vertices = ((x - 5, y - 9), (x + 5, y - 9), (x, y - 1))
    else:
        vertices = ((x, y + 1), (x + 4.5, y + 6), (x, y + 11), (x - 4.5, y + 6))
    points = " ".join(f"{vx:.1f},{vy:.1f}" for vx, vy in vertices)
    return f'<polygon points="{points}" fill="{colour}" stroke="#fff" stroke-width="0.8"/>'


def _markers_svg(chart: _Chart, x_scale: _Scale, y_scale: _Scale) -> str:
    """Episode markers on top of the lines, with their own key in the plot's
    lower-left corner (an alarm sits above the curve, an earning below it)."""
    if not chart.markers:
        return ""
    out = ['<g class="markers">']
    for marker in chart.markers:
        x, y = float(x_scale(marker.x)), float(y_scale(marker.y))
        out.append(
            f'<g class="marker" data-marker="{_esc(marker.kind)}" '
            f'data-episode="{marker.episode}">{_marker_shape(marker.kind, x, y)}'
            f"<title>{_esc(marker.tooltip)}</title></g>"
        )
    key_x, key_y = MARGIN_LEFT + 12, chart.height - MARGIN_BOTTOM - 12
    for kind, (_, label) in _MARKER_KINDS.items():
        # centre both shapes on the key's text line
        shape_y = key_y - 8 if kind == "earning" else key_y + 2
        out.append(
            f'<g class="marker-key">{_marker_shape(kind, key_x, shape_y)}'
            f'<text x="{key_x + 10:.1f}" y="{key_y:.1f}">{_esc(label)}</text></g>'
        )
        key_x += 20 + len(label) * CHAR_WIDTH
    out.append("</g>")
    return "".join(out)


def episode_markers(episodes: Any, baseline: pd.DataFrame) -> tuple[_Marker, ...]:
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
                f"Episode {rank}: {_MARKER_KINDS[kind][1]} {date:%Y-%m-%d}, "
                f"{episode.get(lag_key)} sessions after {since}"
            )
            markers.append(
                _Marker(
                    float(_to_days(pd.Series([date]))[0]),
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


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _x_domain(*frames: pd.DataFrame) -> tuple[float, float] | None:
    """Common date domain so the four plots line up vertically on the page."""
    days = [_to_days(f["date"]) for f in frames if len(f)]
    if not days:
        return None
    lo = min(float(d.min()) for d in days)
    hi = max(float(d.max()) for d in days)
    return (lo, hi if hi > lo else lo + 1.0)


def _daily_line(frame: pd.DataFrame, column: str, label: str, colour: str, **kw: Any) -> _Line:
    return _Line(
        label=label,
        colour=colour,
        x=_to_days(frame["date"]),
        y=pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float),
        **kw,
    )


def _has_data(line: _Line) -> bool:
    return bool(np.isfinite(line.y).any())


def _equity_chart(
    baseline: pd.DataFrame,
    scaled: pd.DataFrame,
    x_domain: tuple[float, float],
    regime_bands: _Bands = ((), ()),
) -> _Chart | None:
    """Wealth of both runs (and of the benchmark when the scaled frame carries
    ``benchmark_equity``) over the regimes; log scale when possible so equal
    returns look equal."""
    candidates = [
        _daily_line(baseline, "equity", "Baseline", BASELINE_COLOUR),
        _daily_line(scaled, "equity", "Scaled", SCALED_COLOUR),
    ]
    if "benchmark_equity" in scaled.columns:
        label = str(scaled.attrs.get("benchmark_label", "Benchmark"))
        candidates.append(
            _daily_line(scaled, "benchmark_equity", label, BENCHMARK_COLOUR, dash="5 3")
        )
    lines = tuple(line for line in candidates if _has_data(line))
    if not lines:
        return None
    values = np.concatenate([_finite(line.y) for line in lines])
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
    return _Chart(
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


def _drawdown_domain(lines: Iterable[_Line]) -> tuple[float, float]:
    values = np.concatenate([_finite(line.y) for line in lines])
    low = float(values.min()) if values.size else 0.0
    low = min(low, 0.0)
    return (low * 1.08 if low < 0 else -0.01, 0.0)


def _drawdown_chart(
    baseline: pd.DataFrame, scaled: pd.DataFrame, x_domain: tuple[float, float]
) -> _Chart | None:
    """Both drawdown curves; legend carries each MaxDD and the troughs are marked."""
    lines: list[_Line] = []
    for frame, label, colour in (
        (baseline, "Baseline", BASELINE_COLOUR),
        (scaled, "Scaled", SCALED_COLOUR),
    ):
        line = _daily_line(frame, "drawdown", label, colour, mark_min=True)
        if _has_data(line):
            max_dd = format_value(float(np.nanmin(line.y)), "pct")
            lines.append(replace(line, label=f"{label} (max {max_dd})"))
    if not lines:
        return None
    domain = _drawdown_domain(lines)
    ticks = nice_ticks(domain[0], domain[1], LINEAR_TICK_TARGET)
    return _Chart(
        key="drawdown",
        title="Drawdown: baseline vs scaled",
        y_label="Drawdown from peak",
        lines=tuple(lines),
        x_domain=x_domain,
        y_domain=domain,
        y_format=_pct_tick_formatter(ticks),
        height=300,
        description="Drawdown from the running peak for both runs; dots mark the troughs.",
    )


def _bands(scaled: pd.DataFrame) -> _Bands:
    """Regime bands and the matching legend entries (only regimes that occur)."""
    if "regime" not in scaled.columns or not len(scaled):
        return (), ()
    segments = regime_segments(scaled["date"], scaled["regime"])
    starts = _to_days(pd.Series([s.start for s in segments], dtype="datetime64[ns]"))
    ends = _to_days(pd.Series([s.end for s in segments], dtype="datetime64[ns]"))
    bands = tuple(
        _Band(
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
    scaled: pd.DataFrame, x_domain: tuple[float, float], regime_bands: _Bands
) -> _Chart | None:
    """The applied risk scalar on a fixed 0-1 axis, over regime bands."""
    if "risk_scalar" not in scaled.columns:
        return None
    line = _daily_line(scaled, "risk_scalar", "Risk scalar", SCALAR_COLOUR, width=1.8)
    if not _has_data(line):
        return None
    bands, legend = regime_bands
    top = max(1.05, float(np.nanmax(line.y)) * 1.05)
    return _Chart(
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
    baseline: pd.DataFrame, x_domain: tuple[float, float], regime_bands: _Bands
) -> _Chart | None:
    """Baseline drawdown over the regimes: does the classifier fire when it hurts?"""
    bands, legend = regime_bands
    if not bands:
        return None
    line = _daily_line(baseline, "drawdown", "Baseline drawdown", REGIME_DD_COLOUR)
    if not _has_data(line):
        return None
    domain = _drawdown_domain([line])
    ticks = nice_ticks(domain[0], domain[1], LINEAR_TICK_TARGET)
    return _Chart(
        key="regime_drawdown",
        title="Regimes vs baseline drawdown",
        y_label="Baseline drawdown",
        lines=(line,),
        x_domain=x_domain,
        y_domain=domain,
        y_format=_pct_tick_formatter(ticks),
        bands=bands,
        extra_legend=legend,
        height=280,
        description="Baseline drawdown with the regime classification as background bands.",
    )


def _with_markers(chart: _Chart | None, markers: tuple[_Marker, ...]) -> _Chart | None:
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
    x_domain = _x_domain(baseline, scaled)
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
                "delta_class": _delta_class(metric),
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
        {"label": _humanise(key), "value": _format_generic(key, value)}
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
        pct = _as_float(row.get("pct"))
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


def _flag_rows(flags: Any) -> list[dict[str, str]]:
    out = []
    for flag in _list_of_mappings(flags):
        status = str(flag.get("status", "")).strip().lower()
        out.append(
            {
                "code": str(flag.get("flag", "")),
                "name": _humanise(str(flag.get("flag", ""))),
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
                    _MISSING if row.get(key) is None else control_value(row.get(key), unit)
                    for key, _, unit in CONTROL_METRICS
                ],
                "beats": [
                    {"text": _MISSING, "cls": ""}
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
                cells.append({"text": _format_generic(col, value), "cls": ""})
        body.append(cells)
    return [_humanise(c) for c in columns], body


def _date_text(value: Any) -> str:
    if value is None:
        return _MISSING
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
                    "title": _humanise(key),
                    "columns": [_humanise(c) for c in columns],
                    "rows": [[_format_generic(c, r.get(c)) for c in columns] for r in rows],
                }
            )
        elif isinstance(value, Mapping):
            facts += [
                {"label": f"{_humanise(key)}: {_humanise(k)}", "value": _format_generic(k, v)}
                for k, v in value.items()
            ]
        else:
            facts.append({"label": _humanise(key), "value": _format_generic(key, value)})
    return facts, tables


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Template environment; autoescape is forced on because run ids are user input."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("allocator", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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
    baseline = _prepare_daily(baseline_daily, "baseline_daily", required)
    scaled = _prepare_daily(scaled_daily, "scaled_daily", required)
    plots = build_plots(baseline, scaled, comparison.get("drawdown_episodes"))
    flags = _flag_rows(comparison.get("flags"))
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
    template = _environment().get_template(TEMPLATE_NAME)
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
