"""The interpretation flags' sentences: the report layer's words over the
figures the SQL computes.

``marts.two_pass_flags`` gives each (scaled run, flag) a status and an
outcome; ``marts.two_pass_flag_measures`` gives the run's figures and the
rules' thresholds. The sentence of an outcome is a template in
``templates/two_pass_flag_texts.csv`` (one row per flag and outcome) with
``{name}`` for a figure of :data:`FIGURES`, formatted here. A template that
names a missing figure gives the ``not_measurable`` sentence instead, so a
report never prints half a sentence.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["FIGURES", "NOT_MEASURABLE", "flag_detail", "format_figure", "load_templates"]

TEMPLATE_FILE = "two_pass_flag_texts.csv"
NOT_MEASURABLE = ("*", "not_measurable")
_NAME = re.compile(r"\{([a-z_0-9]+)\}")

#: A figure a sentence may name: the two_pass_flag_measures column and how it reads.
FIGURES: Mapping[str, tuple[str, str]] = {
    "scaled_max_drawdown": ("scaled_max_drawdown", "pct"),
    "baseline_max_drawdown": ("baseline_max_drawdown", "pct"),
    "delta_max_drawdown": ("delta_max_drawdown", "signed_pp"),
    "delta_worst_month": ("delta_worst_month", "signed_pp"),
    "delta_worst_quarter": ("delta_worst_quarter", "signed_pp"),
    "scaled_sharpe": ("scaled_sharpe", "ratio"),
    "baseline_sharpe": ("baseline_sharpe", "ratio"),
    "delta_sharpe": ("delta_sharpe", "signed_ratio"),
    "delta_ann_vol": ("delta_ann_vol", "signed_pp"),
    "delta_cagr": ("delta_cagr", "signed_pp"),
    "transitions_per_year": ("transitions_per_year", "ratio"),
    "rebalances_scaled": ("rebalances_scaled", "count"),
    "rebalances_total": ("rebalances_total", "count"),
    "pct_scaled": ("pct_scaled", "share"),
    "baseline_worst_dd_peak_date": ("baseline_worst_dd_peak_date", "date"),
    "baseline_worst_dd_trough_date": ("baseline_worst_dd_trough_date", "date"),
    "worst_dd_rebalances": ("worst_dd_rebalances", "count"),
    "worst_dd_rebalances_scaled": ("worst_dd_rebalances_scaled", "count"),
    "worst_dd_scalar_min": ("worst_dd_scalar_min", "ratio"),
    "derisk_events": ("derisk_events", "count"),
    "events_in_stress": ("events_in_stress", "count"),
    "strategy_profile": ("strategy_profile", "text"),
    "baseline_strategy_profile": ("baseline_strategy_profile", "text"),
    "start_date": ("start_date", "date"),
    "end_date": ("end_date", "date"),
    "baseline_start_date": ("baseline_start_date", "date"),
    "baseline_end_date": ("baseline_end_date", "date"),
    "vol_matched_max_drawdown": ("vol_matched_max_drawdown", "pct"),
    "vol_matched_sharpe": ("vol_matched_sharpe", "ratio"),
    "vol_target_max_drawdown": ("vol_target_max_drawdown", "pct"),
    "vol_target_sharpe": ("vol_target_sharpe", "ratio"),
    "beaten_control": ("beaten_control", "text"),
    "months_total": ("months_total", "count"),
    "months_with_alarm": ("months_with_alarm", "count"),
    "alarm_month_share": ("alarm_month_share", "share"),
    "alarm_spells": ("alarm_spells", "count"),
    "false_alarm_spells": ("false_alarm_spells", "count"),
    "false_alarm_share": ("false_alarm_share", "share"),
    "longest_spell_sessions": ("longest_spell_sessions", "count"),
    "longest_spell_start_date": ("longest_spell_start_date", "date"),
    "longest_spell_end_date": ("longest_spell_end_date", "date"),
    "sessions_total": ("sessions_total", "count"),
    "sessions_derisked": ("sessions_derisked", "count"),
    "derisked_day_share": ("derisked_day_share", "share"),
    # the rules' thresholds (two_pass_flag_measures.threshold_*), as the rules read them
    "maxdd_good_reduction_pp": ("threshold_maxdd_good_reduction", "threshold_pp"),
    "sharpe_warning_drop": ("threshold_sharpe_warning_drop", "number"),
    "transitions_good_below": ("threshold_transitions_good_below", "count"),
    "transitions_failure_above": ("threshold_transitions_failure_above", "count"),
    "stress_drawdown_pct": ("threshold_stress_drawdown", "threshold_loss_pct"),
    "longest_spell_warning_above": ("threshold_longest_spell_warning_above", "count"),
    "longest_spell_failure_above": ("threshold_longest_spell_failure_above", "count"),
    "months_flagged_warning_above": ("threshold_months_flagged_warning_above", "share_whole"),
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_figure(value: Any, kind: str) -> str:
    """A figure as the sentences print it, e.g. -12.10%, +0.06 pp, 0.74, 2020-03-23."""
    if kind in ("text",):
        return str(value)
    if kind == "date":
        return value.isoformat()[:10] if isinstance(value, (date, datetime)) else str(value)
    number = float(value)
    formats = {
        "pct": lambda x: f"{x * 100:.2f}%",
        "signed_pp": lambda x: f"{x * 100:+.2f} pp",
        "share": lambda x: f"{x * 100:.1f}%",
        "share_whole": lambda x: f"{x * 100:.0f}%",
        "ratio": lambda x: f"{x:.2f}",
        "signed_ratio": lambda x: f"{x:+.2f}",
        "count": lambda x: f"{x:.0f}",
        "number": lambda x: f"{x:g}",
        "threshold_pp": lambda x: f"{x * 100:.1f}",
        "threshold_loss_pct": lambda x: f"{-x * 100:.1f}",
    }
    if kind not in formats:
        raise ValueError(f"unknown figure kind {kind!r}")
    return formats[kind](number)


@cache
def load_templates() -> dict[tuple[str, str], str]:
    """(flag, outcome) -> template, from the package's CSV."""
    text = resources.files("allocator").joinpath("templates", TEMPLATE_FILE).read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {(row["flag"], row["outcome"]): row["template"] for row in rows}


def flag_detail(
    flag: str,
    outcome: str,
    measures: Mapping[str, Any],
    templates: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The sentence of one flag's outcome with the run's figures filled in.

    Raises KeyError for an outcome without a template or a template naming
    an unknown figure (a code error, caught by the tests); gives the
    ``not_measurable`` sentence when a named figure is missing.
    """
    templates = load_templates() if templates is None else templates
    template = templates[(flag, outcome)]
    names = _NAME.findall(template)
    for name in names:
        if name not in FIGURES:
            raise KeyError(f"template of {flag}/{outcome} names unknown figure {{{name}}}")
    values = {name: measures.get(FIGURES[name][0]) for name in names}
    if any(_missing(value) for value in values.values()):
        return templates[NOT_MEASURABLE]
    return _NAME.sub(lambda m: format_figure(values[m.group(1)], FIGURES[m.group(1)][1]), template)
