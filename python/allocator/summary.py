"""Plain-text renderings of a run and of a two-pass comparison: the
=== ALLOCATOR v1 SUMMARY === block, the regime report and the
two_pass_comparison.md table. Pure functions of plain data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby, pairwise
from typing import Any

from allocator.run_config import MATERIALLY_SCALED_BELOW

SUMMARY_HEADER = "=== ALLOCATOR v1 SUMMARY ==="
# "Scaled" is a material cut: the one definition in run_config, which the
# gate hands to SQL (allocator_scalars_at_rebalances.is_scaled).
SCALED_BELOW = MATERIALLY_SCALED_BELOW
REGIME_ORDER = ("NORMAL", "ELEVATED", "STRESS", "CRISIS")
MISSING = "n/a"


@dataclass(frozen=True)
class RebalanceScalar:
    """One rebalance of a run: the scalar that counts for the summary and the regime."""

    date: str
    scalar: float
    regime: str | None


@dataclass(frozen=True)
class RegimeStat:
    """Time in one regime: days, share of days and the longest consecutive run."""

    regime: str
    days: int
    pct: float
    longest_run_days: int


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fmt_pct(value: Any, signed: bool = False, decimals: int = 2) -> str:
    """A fraction as a percentage: -0.1532 -> '-15.32%'."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number * 100:{'+' if signed else ''}.{decimals}f}%"


def fmt_ratio(value: Any, signed: bool = False, decimals: int = 2) -> str:
    """A plain number: 0.6612 -> '0.66'."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number:{'+' if signed else ''}.{decimals}f}"


def fmt_value(value: Any, unit: str, signed: bool = False) -> str:
    """Format by the comparison's unit ('pct' or 'ratio')."""
    return fmt_pct(value, signed) if unit == "pct" else fmt_ratio(value, signed)


def is_scaled(scalar: Any) -> bool:
    """Did this scalar cut exposure materially (below 0.99, the count's definition)?"""
    number = _finite(scalar)
    return number is not None and number < SCALED_BELOW


def allocator_summary(
    mode: str,
    source: str,
    rebalances: Sequence[RebalanceScalar],
    top_n: int = 5,
    cadence: str | None = None,
    calibration: str | None = None,
    features_missing: Mapping[str, str] | None = None,
) -> str:
    """The seeds' run-log block: mode, scalar source, usage and top de-risk events.

    ``rebalances`` carry the scalar that matters for the mode: the one used
    on the weights, or in mode off the lagged scalar a second pass would use.
    ``features_missing`` (feature -> why, allocator_state_v1_meta) adds a
    line naming the state features the run could not compute: their regime
    rules are inert, so a returns-only or single-asset book is classified on
    volatility and drawdown alone.
    """
    scalars = [r.scalar for r in rebalances if _finite(r.scalar) is not None]
    total = len(rebalances)
    scaled = [r for r in rebalances if is_scaled(r.scalar)]
    pct = len(scaled) / total if total else None
    lines = [SUMMARY_HEADER, f"Mode: {mode}"]
    if cadence:
        lines.append(f"Cadence: {cadence}")
    if calibration:
        lines.append(f"Calibration: {calibration}")
    if features_missing:
        lines.append(f"Features missing: {missing_features_text(features_missing)}")
    lines += [f"Source: {source}", f"Rebalances: {total} total"]
    lines.append(f"Scaled (below {SCALED_BELOW:.2f}): {len(scaled)} ({fmt_pct(pct, decimals=1)})")
    if scalars:
        lines.append(
            f"Risk scalar: avg={sum(scalars) / len(scalars):.2f}, "
            f"min={min(scalars):.2f}, max={max(scalars):.2f}"
        )
    else:
        lines.append("Risk scalar: no rebalances")
    events = sorted(scaled, key=lambda r: (r.scalar, r.date))[:top_n]
    lines += ["", f"Top {top_n} de-risk events:"]
    lines += [f"  {e.date}: {e.scalar:.2f} ({e.regime or MISSING})" for e in events] or [
        f"  none (scalar never below {SCALED_BELOW:.2f})"
    ]
    return "\n".join(lines)


def missing_features_text(features_missing: Mapping[str, str]) -> str:
    """'a, b (why); c (why)': the missing state features grouped by reason,
    in the meta's order, and what follows for the regime."""
    by_reason: dict[str, list[str]] = {}
    for feature, reason in features_missing.items():
        by_reason.setdefault(str(reason), []).append(str(feature))
    groups = "; ".join(f"{', '.join(names)} ({reason})" for reason, names in by_reason.items())
    return f"{groups}; their regime rules are inert"


def regime_stats(regimes: Sequence[str], order: Sequence[str] = REGIME_ORDER) -> list[RegimeStat]:
    """Days, share and longest consecutive run per regime of a daily series.

    Every regime in ``order`` is listed (0 days if never visited), then any
    other name seen, in order of appearance.
    """
    days: dict[str, int] = {}
    longest: dict[str, int] = {}
    for regime, run in groupby(regimes):
        length = sum(1 for _ in run)
        days[regime] = days.get(regime, 0) + length
        longest[regime] = max(longest.get(regime, 0), length)
    names = list(order) + [r for r in days if r not in order]
    total = len(regimes)
    return [
        RegimeStat(
            name,
            days.get(name, 0),
            days.get(name, 0) / total if total else 0.0,
            longest.get(name, 0),
        )
        for name in names
    ]


def regime_changes(regimes: Sequence[str]) -> dict[tuple[str, str], int]:
    """Counts of day-to-day regime changes (from, to), staying put excluded."""
    counts: dict[tuple[str, str], int] = {}
    for before, after in pairwise(regimes):
        if before != after:
            counts[(before, after)] = counts.get((before, after), 0) + 1
    return counts


def regime_report(
    run_id: str, dates: Sequence[str], regimes: Sequence[str], top_n: int = 10
) -> str:
    """The seeds' diagnostics output: distribution with max consecutive days and
    the most frequent transitions."""
    if not regimes:
        return f"Run {run_id}: no regime rows (the state never finished its warm-up)"
    stats = regime_stats(regimes)
    width = max(len(s.regime) for s in stats)
    changes = regime_changes(regimes)
    years = len(regimes) / 252
    lines = [
        f"Run {run_id}: {len(regimes)} days with a regime, {dates[0]} to {dates[-1]}",
        "",
        "Regime Distribution:",
    ]
    for stat in stats:
        line = f"  {stat.regime:<{width}} : {stat.days:>5} days ({stat.pct * 100:5.1f}%)"
        if stat.days:
            line += f", max consecutive: {stat.longest_run_days} days"
        lines.append(line)
    total_changes = sum(changes.values())
    lines += [
        "",
        f"Transitions: {total_changes} ({total_changes / years:.1f} per year)",
        "Top Transitions:",
    ]
    ranked = sorted(changes.items(), key=lambda item: (-item[1], item[0]))[:top_n]
    lines += [f"  {a + '->' + b:25s}: {n:3d}" for (a, b), n in ranked] or ["  none"]
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def comparison_markdown(comparison: Mapping[str, Any]) -> str:
    """two_pass_comparison.md: the seeds' comparison report as Markdown tables."""
    usage = comparison.get("scalar_usage") or {}
    lines = [
        f"# Two-pass comparison: {comparison['scaled_run_id']} vs {comparison['baseline_run_id']}",
        "",
        f"- Strategy profile: {comparison.get('strategy_profile')}",
        f"- Window: {comparison.get('start_date')} to {comparison.get('end_date')}",
        f"- Baseline run (allocator off): {comparison['baseline_run_id']}",
        f"- Scaled run (precomputed scalars of the baseline): {comparison['scaled_run_id']}",
        "",
        "## Performance",
        "",
    ]
    lines += _table(
        ["Metric", "Baseline", "Scaled", "Delta"],
        (
            [
                m["metric"],
                fmt_value(m["baseline"], m["unit"]),
                fmt_value(m["scaled"], m["unit"]),
                fmt_value(m["delta"], m["unit"], signed=True),
            ]
            for m in comparison.get("metrics", [])
        ),
    )
    lines += [
        "",
        "## Allocator usage",
        "",
        f"- Total rebalances: {usage.get('rebalances_total')}",
        f"- Rebalances scaled (scalar < {SCALED_BELOW:.2f}): {usage.get('rebalances_scaled')} "
        f"({fmt_pct(usage.get('pct_scaled'), decimals=1)})",
        f"- Mean scalar: {fmt_ratio(usage.get('scalar_mean'))}",
        f"- Min scalar: {fmt_ratio(usage.get('scalar_min'))}",
        f"- Max scalar: {fmt_ratio(usage.get('scalar_max'))}",
        "",
        "## Regime distribution",
        "",
    ]
    lines += _table(
        ["Regime", "Days", "Share", "Longest run (days)"],
        (
            [r["regime"], str(r["days"]), fmt_pct(r["pct"], decimals=1), str(r["longest_run_days"])]
            for r in comparison.get("regimes", [])
        ),
    )
    changes = [t for t in comparison.get("transitions", []) if t["from_regime"] != t["to_regime"]]
    lines += [
        "",
        f"## Regime transitions ({fmt_ratio(comparison.get('transitions_per_year'), decimals=1)} "
        "per year)",
        "",
    ]
    lines += _table(
        ["From", "To", "Transitions"],
        (
            [t["from_regime"], t["to_regime"], str(t["transitions"])]
            for t in changes
            if t["transitions"]
        ),
    )
    lines += ["", "## Top 10 de-risk events", ""]
    lines += _table(
        ["Date", "Scalar", "Regime"],
        (
            [str(e["date"]), fmt_ratio(e["scalar"]), str(e.get("regime") or MISSING)]
            for e in comparison.get("top_derisk_events", [])
        ),
    )
    lines += episode_markdown(comparison)
    lines += ["", "## Interpretation flags", ""]
    lines += _table(
        ["Flag", "Status", "Detail"],
        ([f["flag"], f["status"], f["detail"]] for f in comparison.get("flags", [])),
    )
    lines += controls_markdown(comparison.get("controls") or [], comparison.get("flags") or [])
    return "\n".join(lines) + "\n"


EPISODE_HEADER = (
    "Rank",
    "Peak",
    "Trough",
    "Recovery",
    "Baseline DD",
    "Scaled DD",
    "First S/C",
    "Detection lag",
    "S/C before trough",
    "First earning",
    "Delivery lag",
)


def _text(value: Any, missing: str = MISSING) -> str:
    return missing if value is None else str(value)


def episode_cells(episode: Mapping[str, Any]) -> list[str]:
    """One row of two_pass_drawdown_episodes as the table's texts (lags in sessions)."""
    before = episode.get("is_alarm_before_trough")
    return [
        _text(episode.get("episode_rank")),
        _text(episode.get("peak_date")),
        _text(episode.get("trough_date")),
        _text(episode.get("recovery_date"), "not recovered"),
        fmt_pct(episode.get("baseline_drawdown"), decimals=1),
        fmt_pct(episode.get("scaled_drawdown"), decimals=1),
        _text(episode.get("first_alarm_date"), "none"),
        _text(episode.get("detection_lag_sessions")),
        MISSING if before is None else ("yes" if before else "no"),
        _text(episode.get("first_earning_date")),
        _text(episode.get("delivery_lag_sessions")),
    ]


def _share_of(share: Any, count: Any, total: Any) -> str:
    return f"{fmt_pct(share, decimals=1)} ({_text(count)} of {_text(total)})"


def false_alarm_facts(false_alarms: Mapping[str, Any]) -> list[tuple[str, str]]:
    """two_pass_false_alarms as (label, value) pairs, the same words in md and html."""
    horizon = _text(false_alarms.get("alarm_horizon_sessions"))
    loss = fmt_pct(-(_finite(false_alarms.get("drawdown_threshold")) or 0.0), decimals=0)
    median = _finite(false_alarms.get("median_spell_sessions"))
    spells = false_alarms.get("alarm_spells")
    return [
        (
            "Months with a STRESS/CRISIS day",
            _share_of(
                false_alarms.get("alarm_month_share"),
                false_alarms.get("months_with_alarm"),
                false_alarms.get("months_total"),
            ),
        ),
        (
            "STRESS/CRISIS spells",
            f"{_text(spells)} (median {MISSING if median is None else f'{median:g}'} sessions)",
        ),
        (
            f"False alarms: spells not followed by a baseline drawdown of {loss} "
            f"within {horizon} sessions",
            _share_of(
                false_alarms.get("false_alarm_share"),
                false_alarms.get("false_alarm_spells"),
                spells,
            ),
        ),
        (
            f"Spells without a fresh {loss} loss (peak to trough from the spell's "
            f"first close) within {horizon} sessions",
            _share_of(
                false_alarms.get("no_fresh_loss_share"),
                false_alarms.get("spells_without_fresh_loss"),
                spells,
            ),
        ),
    ]


def episode_markdown(comparison: Mapping[str, Any]) -> list[str]:
    """The episode timing table and the false-alarm figures (empty without them)."""
    episodes = comparison.get("drawdown_episodes") or []
    false_alarms = comparison.get("false_alarms")
    lines: list[str] = []
    if episodes:
        cadence = episodes[0].get("cadence")
        lines += [
            "",
            "## Episode timing (the baseline's five deepest drawdowns)",
            "",
            "Lags in sessions: detection from the peak to the first STRESS/CRISIS day, "
            "delivery from that day to the first session earning a scalar decided at or after "
            f"its close (cadence {_text(cadence)}). Scaled DD is the scaled book from the "
            "baseline's peak to its trough.",
            "",
        ]
        lines += _table(EPISODE_HEADER, (episode_cells(e) for e in episodes))
    if false_alarms:
        lines += ["", "## False alarms", ""]
        lines += [f"- {label}: {value}" for label, value in false_alarm_facts(false_alarms)]
    return lines


CONTROL_METRICS = (
    ("cagr", "CAGR", "pct"),
    ("ann_vol", "Ann Vol", "pct"),
    ("sharpe", "Sharpe", "ratio3"),
    ("max_drawdown", "MaxDD", "pct"),
    ("worst_month", "Worst Month", "pct"),
    ("worst_quarter", "Worst Quarter", "pct"),
)


def control_value(value: Any, unit: str) -> str:
    """A metric of the controls table: Sharpe to three decimals, since the
    books sit close together."""
    return fmt_ratio(value, decimals=3) if unit == "ratio3" else fmt_value(value, unit)


def control_exposure(row: Mapping[str, Any]) -> str:
    """How a book of the controls table is exposed, e.g. 'k = 0.1320, mean 0.96'."""
    rule, parameter = row.get("exposure_rule"), row.get("exposure_parameter")
    mean = fmt_ratio(row.get("mean_exposure"))
    if rule == "constant":
        return fmt_ratio(parameter, decimals=3)
    if rule == "vol_target":
        return f"k = {fmt_ratio(parameter, decimals=4)}, mean {mean}"
    if rule == "risk_scalar":
        return f"scalar, mean {mean}"
    return mean


def _beats(row: Mapping[str, Any]) -> str:
    marks = [row.get("governor_beats_max_drawdown"), row.get("governor_beats_sharpe")]
    if all(mark is None for mark in marks):
        return ""
    return " / ".join(MISSING if mark is None else ("yes" if mark else "no") for mark in marks)


def controls_markdown(
    controls: Sequence[Mapping[str, Any]], flags: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The controls section: the governor beside a leverage cut at the same
    cadence, lag and costs, and the timing_skill verdict."""
    if not controls:
        return []
    lines = [
        "",
        "## Controls: the governor against a leverage cut (same cadence, lag and costs)",
        "",
    ]
    lines += _table(
        ["Book", "Exposure", *(label for _, label, _ in CONTROL_METRICS), "Governor beats it"],
        (
            [
                str(row.get("book_label")),
                control_exposure(row),
                *(control_value(row.get(key), unit) for key, _, unit in CONTROL_METRICS),
                _beats(row),
            ]
            for row in controls
        ),
    )
    verdict = next((f for f in flags if f.get("flag") == "timing_skill"), None)
    if verdict:
        lines += ["", f"Timing skill: {verdict['status']} ({verdict['detail']})"]
    lines += [
        "",
        "Governor beats it: strictly better MaxDD / Sharpe. timing_skill reads (b) and (c), "
        "the controls at the scaled run's vol: good when the governor beats both on MaxDD "
        "and Sharpe, warning when one, failure when neither (a leverage cut would have "
        "done the same).",
    ]
    return lines
