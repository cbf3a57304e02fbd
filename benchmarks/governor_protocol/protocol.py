"""The cross-universe protocol's measures and its leave-one-universe-out
selection: pure functions over arrays, unit-tested in
tests/python/test_governor_protocol.py.

A governor is measured on a universe's stored baseline with the project's
own sweep (:mod:`allocator.tuning`, :mod:`allocator.tuning_controls`: the
regime and EWMA recursions, the cadence delivery and the pricing a full run
uses, equal to one to 1e-12 by the project's tests), so thousands of
(candidate, universe) pairs cost minutes, not hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from allocator.controls import VolTargetRule, solve_vol_target_ks
from allocator.metrics import daily_vols, max_drawdowns, sharpes
from allocator.pricing import price_exposures
from allocator.regime import LEVELS, RegimeRule
from allocator.run_config import MATERIALLY_SCALED_BELOW
from allocator.tuning import (
    CADENCES,
    BaselineBook,
    Governor,
    configuration_paths,
    resolve_grid,
    session_plan,
)
from allocator.tuning_controls import decided_rvol

SESSIONS_PER_YEAR = 252
STRESSED_LEVEL = 2  # STRESS and CRISIS
#: The issue's pass criteria, per universe evaluated out of calibration.
TARGETS: Mapping[str, float] = {
    "normal_min": 0.40,
    "crisis_max": 0.10,
    "months_flagged_max": 0.35,
    "longest_spell_max_sessions": 2 * SESSIONS_PER_YEAR,
}
#: Share of the universes on which timing_skill must not be a failure.
TIMING_NOT_FAILURE_SHARE = 2.0 / 3.0


@dataclass(frozen=True)
class Candidate:
    """A governor calibration: rules, scalar map and the EWMA settings."""

    name: str
    rules: tuple[RegimeRule, ...]
    targets: tuple[float, float, float, float]
    alpha: float = 0.5
    floor: float = 0.10
    cap: float = 1.0
    min_days: int = 5
    cadence: str = "daily"
    notes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def governor(self, baseline: Governor) -> Governor:
        """The candidate on a baseline's costs and missing-scalar fill."""
        return Governor(
            rules=self.rules,
            targets=self.targets,
            min_days=self.min_days,
            alpha=self.alpha,
            floor=self.floor,
            cap=self.cap,
            cadence=self.cadence,
            apply_missing_scalar_as=baseline.apply_missing_scalar_as,
            transaction_cost_bps=baseline.transaction_cost_bps,
        )

    def document(self) -> dict[str, Any]:
        """The governor-config file that applies this candidate to a run."""
        return {
            "regime_rules": [
                [r.feature, r.level, r.direction, r.enter_threshold, r.exit_threshold]
                for r in self.rules
            ],
            "target_scalars": dict(zip(LEVELS, self.targets, strict=True)),
            "allocator_regime_min_days": self.min_days,
            "allocator_risk_ewma_alpha": self.alpha,
            "allocator_risk_scalar_floor": self.floor,
            "allocator_risk_scalar_cap": self.cap,
            "cadence": self.cadence,
        }


# --- regime-path measures -------------------------------------------------------------


def longest_spell(
    levels: Sequence[int] | NDArray[np.integer], at_least: int = STRESSED_LEVEL
) -> tuple[int, int]:
    """Length and start index of the longest run of levels >= ``at_least``
    (0 and -1 when there is none); the first of equal runs wins."""
    best, best_start, run, start = 0, -1, 0, 0
    for index, level in enumerate(levels):
        if level >= at_least:
            if run == 0:
                start = index
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best, best_start


def months_flagged(dates: NDArray[np.datetime64], levels: NDArray[np.integer]) -> float:
    """Share of the calendar months (of the classified dates) with at least
    one STRESS or CRISIS day; NaN without dates."""
    if len(dates) == 0:
        return math.nan
    months = np.asarray(dates, dtype="datetime64[M]")
    frame = pd.DataFrame({"month": months, "flagged": np.asarray(levels) >= STRESSED_LEVEL})
    return float(frame.groupby("month")["flagged"].any().mean())


def regime_measures(dates: NDArray[np.datetime64], levels: NDArray[np.integer]) -> dict[str, Any]:
    """Shares of each regime, changes a year, months flagged and the
    longest STRESS/CRISIS spell (sessions and dates) of one regime path."""
    levels = np.asarray(levels)
    n = levels.size
    shares = {
        f"share_{name.lower()}": float((levels == level).mean()) if n else math.nan
        for level, name in enumerate(LEVELS)
    }
    changes = int((levels[1:] != levels[:-1]).sum()) if n > 1 else 0
    spell, start = longest_spell(levels)
    return {
        **shares,
        "changes_per_year": changes * SESSIONS_PER_YEAR / n if n else math.nan,
        "months_flagged": months_flagged(dates, levels),
        "longest_spell_sessions": spell,
        "longest_spell_start": str(dates[start]) if spell else None,
        "longest_spell_end": str(dates[start + spell - 1]) if spell else None,
    }


def timing_skill(governor: tuple[float, float], controls: Sequence[tuple[float, float]]) -> str:
    """good / warning / failure: the (MaxDD, Sharpe) of the governor beats
    how many of the controls at its vol, strictly on both (the audit's rule)."""
    beaten = sum(
        1
        for max_drawdown, sharpe in controls
        if governor[0] > max_drawdown and governor[1] > sharpe
    )
    return {2: "good", 1: "warning"}.get(beaten, "failure")


def passes(row: Mapping[str, Any]) -> dict[str, bool]:
    """Each per-universe criterion of the protocol, met or not."""
    return {
        "normal": row["share_normal"] >= TARGETS["normal_min"],
        "crisis": row["share_crisis"] <= TARGETS["crisis_max"],
        "months_flagged": row["months_flagged"] <= TARGETS["months_flagged_max"],
        "spell": row["longest_spell_sessions"] <= TARGETS["longest_spell_max_sessions"],
        "maxdd_vs_baseline": row["governor_max_drawdown"] > row["baseline_max_drawdown"],
        "maxdd_vs_b": row["governor_max_drawdown"] > row["vol_matched_max_drawdown"],
    }


# --- one governor on one universe -------------------------------------------------------


def evaluate(book: BaselineBook, baseline: Governor, candidate: Candidate) -> dict[str, Any]:
    """Every protocol figure of one candidate on one stored baseline."""
    return evaluate_many(book, baseline, [candidate])[0]


def evaluate_many(
    book: BaselineBook,
    baseline: Governor,
    candidates: Sequence[Candidate],
    window_start: np.datetime64 | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate` of many candidates on one baseline: each candidate's
    regime and scalar paths, then the controls of all of them at once
    (allocator.tuning_controls, vectorised over candidates). With
    ``window_start``, the governor's and the baseline's MaxDD and Sharpe from
    that session on too (window_*: a target measured on part of a run)."""
    cost = baseline.transaction_cost_bps
    missing = baseline.apply_missing_scalar_as
    plan = session_plan(book, cost)
    paths, exposures = [], []
    for candidate in candidates:
        governor = candidate.governor(baseline)
        grid = resolve_grid(pd.DataFrame(), governor)
        levels, exposure = configuration_paths(book, governor, grid, plan)
        paths.append(levels[:, 0].astype(int))
        exposures.append(exposure[:, 0])
    # the run's own pricing, metrics and vol-target search (allocator.pricing,
    # allocator.metrics, allocator.controls), as the tuning's controls use them
    exposure = np.column_stack(exposures)
    net = price_exposures(plan.pricing, exposure).net_return
    whole = price_exposures(plan.pricing, np.ones((exposure.shape[0], 1))).net_return[:, 0]
    target = daily_vols(net)
    whole_vol = daily_vols(whole[:, None])[0]
    matched = whole[:, None] * (target / whole_vol)[None, :]
    cadences = np.array([CADENCES.index(c.cadence) for c in candidates])
    rvol = decided_rvol(book, plan, cadences)
    k, _ = solve_vol_target_ks(plan.pricing, rvol, target, missing)
    vol_target = np.full(exposure.shape, np.nan)
    solved = np.flatnonzero(np.isfinite(k))
    if solved.size:
        vol_target[:, solved] = price_exposures(
            plan.pricing, VolTargetRule.of(rvol[:, solved], missing).exposure(k[solved])
        ).net_return
    window = {}
    if window_start is not None:
        inside = book.session_dates >= window_start
        window = {
            "window_max_drawdown": max_drawdowns(net[inside]),
            "window_sharpe": sharpes(net[inside]),
            "window_baseline_max_drawdown": max_drawdowns(whole[inside, None]).repeat(net.shape[1]),
            "window_baseline_sharpe": sharpes(whole[inside, None]).repeat(net.shape[1]),
        }
    figures = {
        **window,
        "governor_max_drawdown": max_drawdowns(net),
        "governor_sharpe": sharpes(net),
        "vol_matched_max_drawdown": max_drawdowns(matched),
        "vol_matched_sharpe": sharpes(matched),
        "vol_target_max_drawdown": max_drawdowns(vol_target),
        "vol_target_sharpe": sharpes(vol_target),
    }
    baseline_figures = {
        "baseline_max_drawdown": float(max_drawdowns(whole[:, None])[0]),
        "baseline_sharpe": float(sharpes(whole[:, None])[0]),
    }
    rows = []
    for j, path in enumerate(paths):
        row: dict[str, Any] = regime_measures(book.feature_dates, path)
        row["derisked_share"] = float((exposure[:, j] < MATERIALLY_SCALED_BELOW).mean())
        row.update(baseline_figures)
        row.update({name: float(values[j]) for name, values in figures.items()})
        rows.append(_judged(row))
    return rows


def _judged(row: dict[str, Any]) -> dict[str, Any]:
    row["timing_skill"] = timing_skill(
        (row["governor_max_drawdown"], row["governor_sharpe"]),
        [
            (row["vol_matched_max_drawdown"], row["vol_matched_sharpe"]),
            (row["vol_target_max_drawdown"], row["vol_target_sharpe"]),
        ],
    )
    return _judged_criteria(row)


def _judged_criteria(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each criterion's verdict: all_met and the names missed."""
    checks = passes(row)
    row["criteria_met"] = sum(checks.values())
    row["all_met"] = all(checks.values())
    row["missed"] = ", ".join(name for name, ok in checks.items() if not ok)
    return row


# --- leave one universe out ------------------------------------------------------------


def training_score(rows: Sequence[Mapping[str, Any]]) -> tuple[float, ...]:
    """How good a candidate is on training universes, larger is better:
    universes meeting every criterion, then universes whose timing_skill is
    not a failure, then the mean MaxDD margin over control (b)."""
    if not rows:
        return (0.0, 0.0, 0.0)
    margin = float(
        np.mean([r["governor_max_drawdown"] - r["vol_matched_max_drawdown"] for r in rows])
    )
    return (
        float(sum(bool(r["all_met"]) for r in rows)),
        float(sum(r["timing_skill"] != "failure" for r in rows)),
        margin,
    )


def choose(
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
    universes: Sequence[str],
    candidates: Sequence[str],
    admissible: Callable[[str, Sequence[str]], bool] | None = None,
) -> str:
    """The candidate with the best training score on ``universes`` (the
    first in ``candidates`` order on ties). ``results[candidate][universe]``
    is :func:`evaluate`'s row; ``admissible(candidate, universes)`` may
    rule candidates out (e.g. a target on a training universe)."""
    best, best_score = None, None
    for name in candidates:
        if admissible is not None and not admissible(name, universes):
            continue
        score = training_score([results[name][u] for u in universes])
        if best_score is None or score > best_score:
            best, best_score = name, score
    if best is None:
        raise ValueError("no admissible candidate")
    return best


def leave_one_out(
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
    universes: Sequence[str],
    candidates: Sequence[str],
    admissible: Callable[[str, Sequence[str]], bool] | None = None,
    group: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """For each universe, the candidate chosen without it (nor, with
    ``group``, any universe of its group, e.g. the other seeds of a
    synthetic market): the calibration it is evaluated out of sample with."""
    chosen = {}
    for held_out in universes:
        key = (group or {}).get(held_out, held_out)
        training = [u for u in universes if (group or {}).get(u, u) != key]
        chosen[held_out] = choose(results, training, candidates, admissible)
    return chosen
