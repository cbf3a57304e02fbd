"""The chart toolkit every report draws with: the two-pass audit
(allocator.report), the tear sheet (allocator.tearsheet), the run comparison
(allocator.compare_runs) and the tuning report (allocator.tuning_report).

* Formatting of metric values and deltas (fractions as percentages, an en
  dash for a missing value) and the colour of a delta.
* Line charts as inline SVG (:class:`Chart` of :class:`Line`, :class:`Band`
  and :class:`Marker`, drawn by :func:`render_line_chart`): no JavaScript
  library, no font or image from the network, the same bytes for the same
  input; long series are decimated to :data:`MAX_POINTS_PER_LINE` points.
* Hover data: each chart's values at sampled sessions as an inert JSON
  script (:func:`plot`), shown by one inline script of the templates.
* The templates' Jinja environment (autoescaped: run ids are user input).

Pure functions of their inputs; no database.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

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

EPOCH = pd.Timestamp("1970-01-01")
MISSING = "\u2013"  # en dash for "no value"

# Which direction counts as an improvement of the scaled run over the baseline.
# Keys are lower-cased metric names; unknown metrics are shown without colour.
HIGHER_IS_BETTER: dict[str, bool] = {
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


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def as_float(value: Any) -> float | None:
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
    number = as_float(value)
    if number is None:
        return MISSING
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
    percentage points), so the HTML matches the markdown comparison
    """
    number = as_float(value)
    if number is None:
        return MISSING
    unit = (unit or "").lower()
    if unit in {"pct", "percent", "%"}:
        return f"{number * 100:+.2f}%"
    if unit in {"ratio", "x"}:
        return f"{number:+.2f}"
    if unit in {"count", "days", "int"}:
        return f"{round(number):+,}"
    return f"{number:+.4g}"


def delta_class(metric: Mapping[str, Any]) -> str:
    """CSS class saying whether the delta is an improvement, so colour is meaningful."""
    delta = as_float(metric.get("delta"))
    if delta is None or abs(delta) < 1e-12:
        return "neutral"
    higher_is_better = metric.get("higher_is_better")
    if higher_is_better is None:
        higher_is_better = HIGHER_IS_BETTER.get(str(metric.get("metric", "")).strip().lower())
    if higher_is_better is None:
        return "neutral"
    return "better" if (delta > 0) == bool(higher_is_better) else "worse"


def humanise(key: str) -> str:
    """Turn a snake_case key into a label for keys this module does not know."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def format_generic(key: str, value: Any) -> str:
    """Best-effort formatting of an unknown field, guessing the unit from its name."""
    if isinstance(value, bool) or value is None:
        return MISSING if value is None else str(value)
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


def to_days(dates: pd.Series) -> np.ndarray:
    """Dates as float days since the epoch: a resolution-independent x coordinate.

    pandas 3 keeps second/ms/us resolutions, so ``astype('int64')`` would change
    meaning with the input; subtracting a Timestamp does not.
    """
    return ((dates - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def days_to_timestamp(days: float) -> pd.Timestamp:
    return EPOCH + pd.Timedelta(days=days)


def prepare_daily(frame: pd.DataFrame, name: str, required: Sequence[str]) -> pd.DataFrame:
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


def normalise_regimes(regimes: pd.Series) -> np.ndarray:
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
    labels = normalise_regimes(regimes)
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
class Scale:
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


def log_ticks(lo: float, hi: float, scale: Scale, min_gap_px: float = 24) -> list[float]:
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


def date_label(tick: pd.Timestamp, ticks: Sequence[pd.Timestamp]) -> str:
    """Year only when all ticks are 1 January, otherwise year-month."""
    if all(t.month == 1 and t.day == 1 for t in ticks):
        return str(tick.year)
    return tick.strftime("%Y-%m")


def pct_tick_formatter(ticks: Sequence[float]) -> Callable[[float], str]:
    """Percent labels with just enough decimals to tell neighbouring ticks apart."""
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False) if b != a]
    step_pct = min(steps) * 100 if steps else 1.0
    decimals = max(0, -math.floor(math.log10(step_pct))) if step_pct > 0 else 0
    if round(step_pct * 10**decimals, 6) % 1:  # e.g. a 2.5% step needs one more decimal
        decimals += 1
    decimals = min(decimals, 3)
    return lambda v: f"{v * 100:.{decimals}f}%"


def plain_tick(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------
# SVG line charts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    x: np.ndarray  # days since epoch
    y: np.ndarray
    width: float = 1.6
    dash: str | None = None
    mark_min: bool = False


@dataclass(frozen=True)
class Band:
    x0: float
    x1: float
    regime: str
    tooltip: str


@dataclass(frozen=True)
class Marker:
    """A dated point on a chart: a down triangle (alarm) or a diamond (earning)."""

    x: float  # days since epoch
    y: float
    kind: str  # "alarm" or "earning"
    episode: int
    tooltip: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    y_label: str
    lines: tuple[Line, ...]
    x_domain: tuple[float, float]
    y_domain: tuple[float, float]
    log_y: bool = False
    y_format: Callable[[float], str] | None = None
    fixed_y_ticks: tuple[float, ...] | None = None
    bands: tuple[Band, ...] = ()
    reference_y: tuple[float, ...] = ()
    height: int = 300
    description: str = ""
    extra_legend: tuple[tuple[str, str], ...] = ()
    markers: tuple[Marker, ...] = ()


Bands = tuple[tuple[Band, ...], tuple[tuple[str, str], ...]]


def esc(text: Any) -> str:
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


def _legend_svg(chart: Chart, right: float, y: float) -> str:
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
        out.append(f'<text x="{x + 26:.1f}" y="{y:.1f}">{esc(label)}</text>')
        x += width
    out.append("</g>")
    return "".join(out)


def render_line_chart(chart: Chart) -> str:
    """Render one chart as an ``<svg class="plot">`` string.

    Geometry is in a fixed 1100-unit-wide viewBox and the SVG is scaled by CSS,
    which keeps axis text proportional and the output independent of the viewer.
    """
    width, height = PLOT_WIDTH, chart.height
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    x_scale = Scale(chart.x_domain[0], chart.x_domain[1], left, right)
    y_scale = Scale(chart.y_domain[0], chart.y_domain[1], bottom, top, log=chart.log_y)

    if chart.fixed_y_ticks is not None:
        y_ticks = list(chart.fixed_y_ticks)
    elif chart.log_y:
        y_ticks = log_ticks(chart.y_domain[0], chart.y_domain[1], y_scale)
    else:
        y_ticks = nice_ticks(chart.y_domain[0], chart.y_domain[1], LINEAR_TICK_TARGET)
    y_ticks = [t for t in y_ticks if chart.y_domain[0] <= t <= chart.y_domain[1]]
    y_fmt = chart.y_format or plain_tick

    start = days_to_timestamp(chart.x_domain[0])
    end = days_to_timestamp(chart.x_domain[1])
    x_ticks = date_ticks(start, end)

    title_id = f"plot-{chart.key}-title"
    desc_id = f"plot-{chart.key}-desc"
    out: list[str] = [
        f'<svg class="plot" data-plot="{esc(chart.key)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{title_id} {desc_id}">',
        f'<title id="{title_id}">{esc(chart.title)}</title>',
        f'<desc id="{desc_id}">{esc(chart.description)}</desc>',
        f'<text class="plot-title" x="{left}" y="20">{esc(chart.title)}</text>',
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
                f'<rect class="band" data-regime="{esc(band.regime)}" x="{x0:.1f}" '
                f'y="{top}" width="{max(x1 - x0, 0.6):.1f}" height="{bottom - top}" '
                f'fill="{colour}" fill-opacity="{BAND_OPACITY}">'
                f"<title>{esc(band.tooltip)}</title></rect>"
            )
        out.append("</g>")

    # Grid and axes.
    out.append('<g class="grid">')
    for tick in y_ticks:
        py = float(y_scale(tick))
        out.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>')
    for tick in x_ticks:
        px = float(x_scale(to_days(pd.Series([tick]))[0]))
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
        out.append(f'<text x="{left - 8}" y="{py + 4:.1f}">{esc(y_fmt(tick))}</text>')
    out.append("</g>")
    out.append('<g class="ticks x-ticks" text-anchor="middle">')
    for tick in x_ticks:
        px = float(x_scale(to_days(pd.Series([tick]))[0]))
        out.append(
            f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 5}"/>'
            f'<text x="{px:.1f}" y="{bottom + 19}">{esc(date_label(tick, x_ticks))}</text>'
        )
    out.append("</g>")
    mid_y = (top + bottom) / 2
    out.append(
        f'<text class="axis-label" x="22" y="{mid_y:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 22 {mid_y:.1f})">{esc(chart.y_label)}</text>'
    )

    # Data lines last so they sit on top.
    for line in chart.lines:
        positions = decimate_positions(line.y, MAX_POINTS_PER_LINE)
        xs = np.asarray(x_scale(line.x[positions]), dtype=float)
        ys = np.asarray(y_scale(line.y[positions]), dtype=float)
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        out.append(
            f'<path class="series" data-series="{esc(line.label)}" '
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


MARKER_KINDS = {
    "alarm": (ALARM_MARKER_COLOUR, "first STRESS/CRISIS day"),
    "earning": (EARNING_MARKER_COLOUR, "first session earning a scalar decided after it"),
}


def _marker_shape(kind: str, x: float, y: float) -> str:
    """An alarm points down at (x, y) from above; an earning hangs below it."""
    colour = MARKER_KINDS[kind][0]
    if kind == "alarm":
        vertices = ((x - 5, y - 9), (x + 5, y - 9), (x, y - 1))
    else:
        vertices = ((x, y + 1), (x + 4.5, y + 6), (x, y + 11), (x - 4.5, y + 6))
    points = " ".join(f"{vx:.1f},{vy:.1f}" for vx, vy in vertices)
    return f'<polygon points="{points}" fill="{colour}" stroke="#fff" stroke-width="0.8"/>'


def _markers_svg(chart: Chart, x_scale: Scale, y_scale: Scale) -> str:
    """Episode markers on top of the lines, with their own key in the plot's
    lower-left corner (an alarm sits above the curve, an earning below it)."""
    if not chart.markers:
        return ""
    out = ['<g class="markers">']
    for marker in chart.markers:
        x, y = float(x_scale(marker.x)), float(y_scale(marker.y))
        out.append(
            f'<g class="marker" data-marker="{esc(marker.kind)}" '
            f'data-episode="{marker.episode}">{_marker_shape(marker.kind, x, y)}'
            f"<title>{esc(marker.tooltip)}</title></g>"
        )
    key_x, key_y = MARGIN_LEFT + 12, chart.height - MARGIN_BOTTOM - 12
    for kind, (_, label) in MARKER_KINDS.items():
        # centre both shapes on the key's text line
        shape_y = key_y - 8 if kind == "earning" else key_y + 2
        out.append(
            f'<g class="marker-key">{_marker_shape(kind, key_x, shape_y)}'
            f'<text x="{key_x + 10:.1f}" y="{key_y:.1f}">{esc(label)}</text></g>'
        )
        key_x += 20 + len(label) * CHAR_WIDTH
    out.append("</g>")
    return "".join(out)


# --------------------------------------------------------------------------
# Series helpers shared by every chart
# --------------------------------------------------------------------------


def finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def date_domain(*frames: pd.DataFrame) -> tuple[float, float] | None:
    """Common date domain so the four plots line up vertically on the page."""
    days = [to_days(f["date"]) for f in frames if len(f)]
    if not days:
        return None
    lo = min(float(d.min()) for d in days)
    hi = max(float(d.max()) for d in days)
    return (lo, hi if hi > lo else lo + 1.0)


def daily_line(frame: pd.DataFrame, column: str, label: str, colour: str, **kw: Any) -> Line:
    return Line(
        label=label,
        colour=colour,
        x=to_days(frame["date"]),
        y=pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float),
        **kw,
    )


def has_data(line: Line) -> bool:
    return bool(np.isfinite(line.y).any())


def drawdown_domain(lines: Iterable[Line]) -> tuple[float, float]:
    values = np.concatenate([finite(line.y) for line in lines])
    low = float(values.min()) if values.size else 0.0
    low = min(low, 0.0)
    return (low * 1.08 if low < 0 else -0.01, 0.0)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Template environment; autoescape is forced on because run ids are user input."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("allocator", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# --------------------------------------------------------------------------
# Hover data: each chart's values under the pointer
# --------------------------------------------------------------------------

#: Hover points per chart: enough for a pointer on a ~1000 px plot, small
#: enough that the hover data stays a fraction of the file.
MAX_HOVER_POINTS = 400


def _stride(n: int, max_points: int = MAX_HOVER_POINTS) -> np.ndarray:
    return np.arange(0, n, max(1, math.ceil(n / max_points)))


def _x_pixels(days: np.ndarray, x_domain: tuple[float, float]) -> np.ndarray:
    """The x of render_line_chart's scale, in viewBox units."""
    left, right = MARGIN_LEFT, PLOT_WIDTH - MARGIN_RIGHT
    span = (x_domain[1] - x_domain[0]) or 1.0
    return left + (days - x_domain[0]) / span * (right - left)


def _format_hover(value: Any, unit: str) -> str:
    if isinstance(value, str):
        return value
    if unit == "wealth":
        number = as_float(value)
        return format_value(None) if number is None else f"{number:.3f}"
    return format_value(value, unit)


@dataclass(frozen=True)
class HoverSeries:
    label: str
    values: pd.Series  # aligned with the chart's dates
    unit: str


def hover_payload(
    key: str, dates: pd.Series, series: Sequence[HoverSeries], x_domain: tuple[float, float]
) -> dict[str, Any]:
    """What the hover script shows on chart ``key``: at each sampled session
    its x in viewBox units, the date and every series' formatted value."""
    dates = pd.to_datetime(pd.Series(dates)).reset_index(drop=True)
    positions = _stride(len(dates))
    days = to_days(dates.iloc[positions])
    return {
        "plot": key,
        "x": [round(float(x), 1) for x in _x_pixels(days, x_domain)],
        "dates": [f"{d:%Y-%m-%d}" for d in dates.iloc[positions]],
        "series": [
            {
                "label": s.label,
                "values": [
                    _format_hover(v, s.unit)
                    for v in s.values.reset_index(drop=True).iloc[positions].tolist()
                ],
            }
            for s in series
        ],
    }


def hover_script_tag(payload: Mapping[str, Any]) -> Markup:
    """The payload as an inert JSON script element; '<' is escaped so no
    value can close the element."""
    text = json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")
    return Markup(
        f'<script type="application/json" class="hover-data" '
        f'data-for="{esc(payload["plot"])}">{text}</script>'
    )


@dataclass(frozen=True)
class Plot:
    key: str
    svg: Markup
    hover: Markup


def plot(chart: Any, dates: pd.Series, series: Sequence[HoverSeries]) -> Plot:
    return Plot(
        chart.key,
        Markup(render_line_chart(chart)),
        hover_script_tag(hover_payload(chart.key, dates, series, chart.x_domain)),
    )


def pct_domain(values: Sequence[np.ndarray], zero_floor: bool = True) -> tuple[float, float]:
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if not finite.size:
        return (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if zero_floor:
        lo = min(lo, 0.0)
    pad = max((hi - lo) * 0.06, 0.01)
    return (lo - pad if lo < 0 or not zero_floor else 0.0, hi + pad)
