"""The tuning report: one self-contained HTML page (inline SVG, no scripts
from elsewhere) of a published tuning (marts.tuning_*).

* the frontier: every configuration's MaxDD against its CAGR, coloured by
  regime changes a year, admissible ones filled, the defaults and the chosen
  configuration marked;
* the top configurations;
* the walk-forward folds: in-sample against out-of-sample, fold by fold, and
  the stitched out-of-sample books with the deflated Sharpe and the PBO.

Charts are hand-written SVG with allocator.charts' ticks and escaping, from pure
functions over plain frames, so they are testable without a database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from allocator.charts import esc, nice_ticks

__all__ = ["frontier_svg", "folds_svg", "render_tuning_html", "write_tuning_html"]

WIDTH, HEIGHT = 820, 420
MARGIN = {"left": 70, "right": 150, "top": 20, "bottom": 50}
#: Transitions a year mapped onto this ramp (calm blue -> busy red).
RAMP = ((0.0, (49, 99, 168)), (0.5, (240, 200, 60)), (1.0, (200, 40, 40)))
BOOK_LABELS = {
    "walk_forward": "Walk-forward (stitched out of sample)",
    "in_sample_best": "In-sample best (chosen with hindsight)",
    "defaults": "Defaults (the baseline's governor)",
    "baseline_unscaled": "Baseline, unscaled",
}


def _colour(share: float) -> str:
    """A colour on RAMP for ``share`` in [0, 1]."""
    share = min(max(share, 0.0), 1.0)
    for (lo, c0), (hi, c1) in zip(RAMP, RAMP[1:], strict=False):
        if share <= hi:
            t = (share - lo) / (hi - lo)
            r, g, b = (round(a + (z - a) * t) for a, z in zip(c0, c1, strict=True))
            return f"rgb({r},{g},{b})"
    return "rgb(200,40,40)"


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (np.asarray(v, dtype=float) - lo) / span * (b - a)


def _domain(values: np.ndarray, include_zero: bool = False) -> tuple[float, float, list[float]]:
    """A padded domain holding every value (and 0 if asked), and the ticks inside it."""
    finite = values[np.isfinite(values)]
    lo, hi = float(finite.min()), float(finite.max())
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = (hi - lo) * 0.05 or 0.01
    lo, hi = lo - pad, hi + pad
    return lo, hi, [tick for tick in nice_ticks(lo, hi) if lo <= tick <= hi]


def _pct(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f}%"


def _axes(x_ticks, y_ticks, x, y, x_label: str, y_label: str) -> list[str]:
    left, top = MARGIN["left"], MARGIN["top"]
    right, bottom = WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"]
    parts = [
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" class="frame"/>'
    ]
    for tick in x_ticks:
        px = float(x(tick))
        parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" class="grid"/>')
        parts.append(
            f'<text x="{px:.1f}" y="{bottom + 16}" class="tick" '
            f'text-anchor="middle">{_pct(tick, 0)}</text>'
        )
    for tick in y_ticks:
        py = float(y(tick))
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{py + 4:.1f}" class="tick" '
            f'text-anchor="end">{_pct(tick, 1)}</text>'
        )
    parts.append(
        f'<text x="{(left + right) / 2}" y="{HEIGHT - 10}" class="label" '
        f'text-anchor="middle">{esc(x_label)}</text>'
    )
    parts.append(
        f'<text x="16" y="{(top + bottom) / 2}" class="label" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + bottom) / 2})">{esc(y_label)}</text>'
    )
    return parts


def frontier_svg(configurations: pd.DataFrame) -> str:
    """MaxDD (x) against CAGR (y) of every configuration, coloured by transitions a year.

    Admissible configurations are filled circles, the others hollow; the
    defaults are a black square and the chosen configuration a black diamond.
    """
    frame = configurations.dropna(subset=["max_drawdown", "cagr"])
    x_lo, x_hi, x_ticks = _domain(frame["max_drawdown"].to_numpy(dtype=float))
    y_lo, y_hi, y_ticks = _domain(frame["cagr"].to_numpy(dtype=float))
    x = _scale(x_lo, x_hi, MARGIN["left"], WIDTH - MARGIN["right"])
    y = _scale(y_lo, y_hi, HEIGHT - MARGIN["bottom"], MARGIN["top"])
    transitions = frame["transitions_per_year"].to_numpy(dtype=float)
    t_hi = max(float(np.nanmax(transitions)), 1e-9)
    parts = _axes(x_ticks, y_ticks, x, y, "Max drawdown", "CAGR")
    points = ['<g class="data" data-series="configurations">']
    order = frame.sort_values("is_admissible")  # admissible drawn on top
    for row in order.itertuples():
        colour = _colour(row.transitions_per_year / t_hi)
        fill = colour if row.is_admissible else "none"
        points.append(
            f'<circle cx="{float(x(row.max_drawdown)):.1f}" cy="{float(y(row.cagr)):.1f}" r="3.2" '
            f'fill="{fill}" stroke="{colour}" data-config="{int(row.config_id)}" '
            f'data-admissible="{str(bool(row.is_admissible)).lower()}"><title>config '
            f"{int(row.config_id)}: "
            f"CAGR {_pct(row.cagr, 2)}, MaxDD {_pct(row.max_drawdown, 1)}, "
            f"{row.transitions_per_year:.1f} changes/yr</title></circle>"
        )
    points.append("</g>")
    for kind, mask in (("defaults", frame["is_default"]), ("chosen", frame["is_chosen"])):
        for row in frame[mask.astype(bool)].itertuples():
            px, py = float(x(row.max_drawdown)), float(y(row.cagr))
            if kind == "defaults":
                shape = (
                    f'<rect x="{px - 6:.1f}" y="{py - 6:.1f}" width="12" height="12" '
                    f'fill="none" stroke="#000" stroke-width="2"/>'
                )
            else:
                shape = (
                    f'<path d="M{px:.1f},{py - 8:.1f} L{px + 8:.1f},{py:.1f} '
                    f"L{px:.1f},{py + 8:.1f} "
                    f'L{px - 8:.1f},{py:.1f} Z" fill="none" stroke="#000" stroke-width="2"/>'
                )
            points.append(f'<g data-marker="{kind}">{shape}</g>')
    legend_x = WIDTH - MARGIN["right"] + 14
    legend = [f'<text x="{legend_x}" y="{MARGIN["top"] + 10}" class="label">changes / yr</text>']
    for i, share in enumerate(np.linspace(0, 1, 5)):
        yy = MARGIN["top"] + 26 + i * 18
        legend.append(f'<circle cx="{legend_x + 6}" cy="{yy}" r="5" fill="{_colour(share)}"/>')
        legend.append(
            f'<text x="{legend_x + 16}" y="{yy + 4}" class="tick">{share * t_hi:.1f}</text>'
        )
    base = MARGIN["top"] + 26 + 5 * 18 + 10
    legend += [
        f'<circle cx="{legend_x + 6}" cy="{base}" r="4" fill="#777" stroke="#777"/>'
        f'<text x="{legend_x + 16}" y="{base + 4}" class="tick">admissible</text>',
        f'<circle cx="{legend_x + 6}" cy="{base + 18}" r="4" fill="none" stroke="#777"/>'
        f'<text x="{legend_x + 16}" y="{base + 22}" class="tick">not admissible</text>',
        f'<rect x="{legend_x}" y="{base + 30}" width="12" height="12" fill="none" stroke="#000" '
        f'stroke-width="2"/>'
        f'<text x="{legend_x + 16}" y="{base + 40}" class="tick">defaults</text>',
        f'<path d="M{legend_x + 6},{base + 48} L{legend_x + 12},{base + 54} '
        f"L{legend_x + 6},{base + 60} "
        f'L{legend_x},{base + 54} Z" fill="none" stroke="#000" stroke-width="2"/>'
        f'<text x="{legend_x + 16}" y="{base + 58}" class="tick">chosen</text>',
    ]
    return (
        f'<svg class="plot" data-plot="frontier" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="MaxDD against CAGR">'
        + "".join(parts + points + legend)
        + "</svg>"
    )


def folds_svg(folds: pd.DataFrame) -> str:
    """Per fold: the chosen configuration's in-sample CAGR beside its out-of-sample return,
    with the defaults' out-of-sample return, as grouped bars."""
    frame = folds.sort_values("fold")
    series = (
        ("in_sample_cagr", "in-sample CAGR of the choice", "#9aa9c9"),
        ("oos_return", "out-of-sample return of the choice", "#31639a"),
        ("default_oos_return", "out-of-sample return of the defaults", "#c98a2b"),
    )
    values = frame[[s[0] for s in series]].to_numpy(dtype=float)
    y_lo, y_hi, y_ticks = _domain(values.ravel(), include_zero=True)
    y = _scale(y_lo, y_hi, HEIGHT - MARGIN["bottom"], MARGIN["top"])
    left, right = MARGIN["left"], WIDTH - MARGIN["right"]
    slot = (right - left) / max(len(frame), 1)
    bar = slot / (len(series) + 1)
    parts = [
        f'<rect x="{left}" y="{MARGIN["top"]}" width="{right - left}" '
        f'height="{HEIGHT - MARGIN["bottom"] - MARGIN["top"]}" class="frame"/>'
    ]
    for tick in y_ticks:
        py = float(y(tick))
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{py + 4:.1f}" class="tick" '
            f'text-anchor="end">{_pct(tick, 0)}</text>'
        )
    zero = float(y(0.0))
    bars = ['<g class="data" data-series="folds">']
    for i, row in enumerate(frame.itertuples()):
        x0 = left + i * slot + bar / 2
        for j, (column, label, colour) in enumerate(series):
            value = float(getattr(row, column))
            if not math.isfinite(value):
                continue
            top = min(float(y(value)), zero)
            height = max(abs(float(y(value)) - zero), 0.5)
            bars.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{height:.1f}" '
                f'fill="{colour}"><title>{row.test_year}: {label} {_pct(value, 1)}</title></rect>'
            )
        parts.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{HEIGHT - MARGIN["bottom"] + 16}" '
            f'class="tick" '
            f'text-anchor="middle">{row.test_year}</text>'
        )
    bars.append("</g>")
    legend = []
    for j, (_, label, colour) in enumerate(series):
        yy = MARGIN["top"] + 14 + j * 34
        legend.append(
            f'<rect x="{right + 12}" y="{yy - 9}" width="10" height="10" fill="{colour}"/>'
        )
        words = label.split(" of ")
        legend.append(f'<text x="{right + 26}" y="{yy}" class="tick">{esc(words[0])}</text>')
        if len(words) > 1:
            legend.append(
                f'<text x="{right + 26}" y="{yy + 13}" class="tick">of {esc(words[1])}</text>'
            )
    return (
        f'<svg class="plot" data-plot="walk_forward" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Walk-forward folds">'
        + "".join(parts + bars + legend)
        + "</svg>"
    )


def _settings_text(row: Mapping[str, Any]) -> str:
    sleeves = row.get("sleeve_scalars", "off")
    return (
        f"x{row['elevated_multiplier']:g}/{row['stress_multiplier']:g}/"
        f"{row['crisis_multiplier']:g}, "
        f"min_days {int(row['min_days'])}, map {row['target_elevated']:g}/{row['target_stress']:g}/"
        f"{row['target_crisis']:g}, alpha {row['alpha']:g}, [{row['floor']:g}, {row['cap']:g}], "
        f"{row['cadence']}" + ("" if sleeves == "off" else f", sleeves {sleeves}")
    )


def _top_rows(configurations: pd.DataFrame, top: int) -> list[dict[str, str]]:
    frame = configurations.sort_values("objective_rank").head(top)
    shown = pd.concat([frame, configurations[configurations["is_default"]]]).drop_duplicates(
        "config_id"
    )
    return [
        {
            "rank": str(int(row["objective_rank"])),
            "config_id": str(int(row["config_id"])),
            "mark": "chosen" if row["is_chosen"] else ("defaults" if row["is_default"] else ""),
            "settings": _settings_text(row),
            "cagr": _pct(row["cagr"], 2),
            "sharpe": f"{row['sharpe']:.2f}",
            "maxdd": _pct(row["max_drawdown"], 1),
            "calmar": f"{row['calmar']:.2f}",
            "transitions": f"{row['transitions_per_year']:.1f}",
            "shares": "/".join(
                f"{row[f'share_{lvl}'] * 100:.0f}"
                for lvl in ("normal", "elevated", "stress", "crisis")
            ),
            "flagged": _pct(row["share_months_flagged"], 0),
            "timing_skill": str(row.get("timing_skill") or "n/a"),
            "controls": _controls_text(row),
            "admissible": "yes" if row["is_admissible"] else "no",
        }
        for _, row in shown.iterrows()
    ]


def _controls_text(row: Mapping[str, Any]) -> str:
    """The two controls at the configuration's vol: (b) constant exposure and
    (c) vol target, each as MaxDD / Sharpe (what timing_skill compares with)."""

    def pair(drawdown: Any, sharpe: Any) -> str:
        if drawdown is None or sharpe is None or pd.isna(drawdown) or pd.isna(sharpe):
            return "n/a"
        return f"{_pct(drawdown, 1)} / {float(sharpe):.2f}"

    return (
        f"(b) {pair(row.get('vol_matched_max_drawdown'), row.get('vol_matched_sharpe'))}; "
        f"(c) {pair(row.get('vol_target_max_drawdown'), row.get('vol_target_sharpe'))}"
    )


def timing_skill_counts(configurations: pd.DataFrame) -> str:
    """How many configurations the timing_skill rule judged good, warning and failure."""
    if "timing_skill" not in configurations:
        return "n/a"
    counts = configurations["timing_skill"].fillna("n/a").value_counts()
    return ", ".join(
        f"{status} {int(counts.get(status, 0)):,}" for status in ("good", "warning", "failure")
    )


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date()) if pd.notna(value) else "n/a"


def _fold_rows(folds: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {
            "year": str(row["test_year"]),
            "train": f"{_day(row['train_start'])} .. {_day(row['train_end'])}",
            "admissible": str(int(row["admissible_configurations"])),
            "chosen": str(int(row["chosen_config_id"]))
            + (" (defaults kept)" if row["is_default_fallback"] else ""),
            "is_cagr": _pct(row["in_sample_cagr"], 2),
            "is_sharpe": f"{row['in_sample_sharpe']:.2f}",
            "oos_return": _pct(row["oos_return"], 2),
            "oos_sharpe": f"{row['oos_sharpe']:.2f}" if pd.notna(row["oos_sharpe"]) else "n/a",
            "default_oos": _pct(row["default_oos_return"], 2),
            "hindsight_oos": _pct(row["in_sample_best_oos_return"], 2),
            "baseline_oos": _pct(row["baseline_oos_return"], 2),
        }
        for _, row in folds.sort_values("fold").iterrows()
    ]


def _book_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "book": book,
            "label": label,
            "cagr": _pct(summary[f"{book}_oos_cagr"], 2),
            "sharpe": f"{summary[f'{book}_oos_sharpe']:.2f}",
            "maxdd": _pct(summary[f"{book}_oos_max_drawdown"], 1),
            "calmar": f"{summary[f'{book}_oos_calmar']:.2f}",
        }
        for book, label in BOOK_LABELS.items()
    ]


def render_tuning_html(
    summary: Mapping[str, Any], configurations: pd.DataFrame, folds: pd.DataFrame, top: int = 15
) -> str:
    """The report page of one tuning (rows of marts.tuning_summary / _configurations / "
    "_walk_forward)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("allocator", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    template = environment.get_template("tuning_report.html.j2")
    gap = summary["in_sample_best_oos_calmar"], summary["walk_forward_oos_calmar"]
    return template.render(
        summary=summary,
        n_plots=2,
        frontier=jinja2.utils.markupsafe.Markup(frontier_svg(configurations)),
        folds_chart=jinja2.utils.markupsafe.Markup(folds_svg(folds)),
        top_rows=_top_rows(configurations, top),
        fold_rows=_fold_rows(folds),
        book_rows=_book_rows(summary),
        chosen_settings=_settings_text(configurations[configurations["is_chosen"]].iloc[0]),
        default_settings=_settings_text(configurations[configurations["is_default"]].iloc[0]),
        timing_skill=timing_skill_counts(configurations),
        chosen_controls=_controls_text(configurations[configurations["is_chosen"]].iloc[0]),
        dsr=f"{summary['deflated_sharpe']:.3f}",
        pbo=f"{summary['pbo']:.3f}",
        gap=f"{gap[0] - gap[1]:+.2f}",
        oos_window=f"{_day(summary['oos_start'])} .. {_day(summary['oos_end'])}",
    )


def write_tuning_html(
    path: Path, summary: Mapping[str, Any], configurations: pd.DataFrame, folds: pd.DataFrame
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_tuning_html(summary, configurations, folds), encoding="utf-8")
    return path


def load_tuning(con: Any, tuning_id: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """A published tuning's three marts."""
    summary = con.execute(
        "select * from marts.tuning_summary where tuning_id = ?", [tuning_id]
    ).df()
    if summary.empty:
        raise ValueError(f"no published tuning {tuning_id!r}")
    configurations = con.execute(
        "select * from marts.tuning_configurations where tuning_id = ? order by config_id",
        [tuning_id],
    ).df()
    folds = con.execute(
        "select * from marts.tuning_walk_forward where tuning_id = ? order by fold", [tuning_id]
    ).df()
    return summary.iloc[0].to_dict(), configurations, folds
