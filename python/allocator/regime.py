"""Sequential regime classification with hysteresis and anti-thrash.

The allocator maps a daily vector of state features to one of four regimes,
NORMAL < ELEVATED < STRESS < CRISIS.  Everything that can be expressed set-wise
lives in SQL; this module holds the one genuinely sequential piece: the regime
on day t depends on the regime (and how long it has lasted) on day t-1.

Design choices, in short:

* Rules are data (a seed table), one row per (feature, level, direction,
  enter, exit).  A level is *entered* when any of its rules crosses its enter
  threshold, and *kept* while any of its rules is still beyond its exit
  threshold.  Separate enter/exit thresholds (hysteresis) stop a feature that
  hovers around one threshold from toggling the regime.
* Escalation is immediate (risk is cut as soon as the data warrants it);
  de-escalation is slow: one level at a time, and only after at least
  ``min_days`` observations in the level being left.
* Missing inputs (None, NaN, or a feature absent from the row) never trigger
  nor hold a rule, so optional features simply make their rules inert.

The core (:func:`classify_regimes`) is pure Python over plain mappings so it is
easy to test and to port; :func:`classify_regime_frame` is a thin pandas shim.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LEVELS",
    "RegimeRule",
    "RegimeStep",
    "classify_regime_frame",
    "classify_regimes",
    "regime_step_from_state",
    "regime_step_state",
    "rules_from_records",
    "transition_counts",
]

#: Regime names ordered by severity; the index is the ``regime_level``.
LEVELS: tuple[str, ...] = ("NORMAL", "ELEVATED", "STRESS", "CRISIS")

_RULE_LEVELS: frozenset[str] = frozenset(LEVELS[1:])
_DIRECTIONS: frozenset[str] = frozenset({"above", "below"})
_RULE_FIELDS: tuple[str, ...] = (
    "feature",
    "level",
    "direction",
    "enter_threshold",
    "exit_threshold",
)


def _threshold(value: object, what: str, where: str) -> float:
    """Coerce a threshold to a finite float, rejecting look-alikes.

    Booleans and strings are refused on purpose: ``True`` or ``"0.5"`` in a
    rule almost always means a mis-parsed seed, and a NaN threshold would make
    the rule silently inert.
    """
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{where}: {what} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {what} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"{where}: {what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class RegimeRule:
    """One hysteresis rule: ``feature`` beyond ``enter_threshold`` enters ``level``.

    ``direction='above'`` means large values are stressful (e.g. volatility):
    the rule enters at ``value >= enter_threshold`` and holds while
    ``value >= exit_threshold``.  ``direction='below'`` mirrors this for
    features where small values are stressful (e.g. drawdown, a negative
    number).  Equality counts as crossing in both cases, so a threshold from a
    seed behaves the same whether it is read as enter or exit.

    The exit threshold must be on the *calm* side of the enter threshold (or
    equal, which means no hysteresis); otherwise a rule could be held at values
    that would not have kept it, which is incoherent.
    """

    feature: str
    level: str
    direction: str
    enter_threshold: float
    exit_threshold: float

    def __post_init__(self) -> None:
        where = f"RegimeRule(feature={self.feature!r}, level={self.level!r})"
        if not isinstance(self.feature, str) or not self.feature:
            raise ValueError(f"{where}: feature must be a non-empty string")
        if self.level not in _RULE_LEVELS:
            raise ValueError(f"{where}: level must be one of {sorted(_RULE_LEVELS)}")
        if self.direction not in _DIRECTIONS:
            raise ValueError(
                f"{where}: direction must be 'above' or 'below', got {self.direction!r}"
            )
        enter = _threshold(self.enter_threshold, "enter_threshold", where)
        exit_ = _threshold(self.exit_threshold, "exit_threshold", where)
        if self.direction == "above" and exit_ > enter:
            raise ValueError(
                f"{where}: for direction 'above' exit_threshold ({exit_}) must be "
                f"<= enter_threshold ({enter})"
            )
        if self.direction == "below" and exit_ < enter:
            raise ValueError(
                f"{where}: for direction 'below' exit_threshold ({exit_}) must be "
                f">= enter_threshold ({enter})"
            )
        # Normalise ints/Decimals to float so equal rules compare and hash equal.
        object.__setattr__(self, "enter_threshold", enter)
        object.__setattr__(self, "exit_threshold", exit_)

    @property
    def severity(self) -> int:
        """Index of this rule's level in :data:`LEVELS` (1..3)."""
        return LEVELS.index(self.level)

    def _beyond(self, value: float | None, threshold: float) -> bool:
        if value is None:
            return False
        return value >= threshold if self.direction == "above" else value <= threshold

    def enters(self, value: float | None) -> bool:
        """True if ``value`` crosses the enter threshold (missing never does)."""
        return self._beyond(value, self.enter_threshold)

    def holds(self, value: float | None) -> bool:
        """True if ``value`` is still beyond the exit threshold (missing never is)."""
        return self._beyond(value, self.exit_threshold)

    def describe(self, threshold: float) -> str:
        """Human-readable condition, e.g. ``'vol_accel>=1.5'`` or ``'dd_level<=-0.1'``."""
        op = ">=" if self.direction == "above" else "<="
        return f"{self.feature}{op}{threshold!r}"


@dataclass(frozen=True)
class RegimeStep:
    """The regime on one observation.

    ``entered_by`` lists the conditions that put the regime here or keep it
    here: on a step where the level was entered by escalation (or on the first
    observation) it is the rules of that level that crossed their *enter*
    threshold; otherwise it is the rules of the current level still beyond
    their *exit* threshold.  It is empty for NORMAL, and also for a level that
    is only kept because ``min_days`` has not elapsed yet.
    """

    regime: str
    regime_level: int
    days_in_regime: int
    entered_by: tuple[str, ...]
    changed: bool


def regime_step_state(step: RegimeStep) -> str:
    """The recursion's state after ``step`` as JSON text: every field of the step.

    A live run stores it with each classified date and restarts the recursion
    from it (:func:`classify_regimes` ``initial``). It is the step itself, not
    a chosen subset, so a rule change that adds a field to the state keeps
    working without touching what is stored.
    """
    return json.dumps(dataclasses.asdict(step), sort_keys=True)


def regime_step_from_state(state: str | Mapping[str, object]) -> RegimeStep:
    """The :class:`RegimeStep` stored by :func:`regime_step_state`."""
    values = dict(json.loads(state) if isinstance(state, str) else state)
    names = {field.name for field in dataclasses.fields(RegimeStep)}
    unknown = sorted(set(values) - names)
    missing = sorted(names - set(values))
    if unknown or missing:
        raise ValueError(
            f"stored regime state does not match RegimeStep: unknown {unknown}, missing {missing}"
        )
    values["entered_by"] = tuple(values["entered_by"])  # type: ignore[arg-type]
    return RegimeStep(**values)  # type: ignore[arg-type]


def rules_from_records(records: Iterable[Mapping[str, object]]) -> tuple[RegimeRule, ...]:
    """Build validated rules from seed rows (feature, level, direction, enter, exit).

    Thresholds are converted with ``float`` here (seeds may deliver strings
    from CSV or Decimals from DuckDB); every other check lives in
    :class:`RegimeRule` so rules built by hand are validated the same way.
    """
    rules: list[RegimeRule] = []
    for position, record in enumerate(records):
        missing = [name for name in _RULE_FIELDS if name not in record]
        if missing:
            raise ValueError(f"rule record #{position} is missing column(s) {missing}")
        where = f"RegimeRule(feature={record['feature']!r}, level={record['level']!r})"
        thresholds: dict[str, float] = {}
        for name in ("enter_threshold", "exit_threshold"):
            raw = record[name]
            try:
                thresholds[name] = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: {name} must be a number, got {raw!r}") from exc
        rules.append(
            RegimeRule(
                feature=record["feature"],  # type: ignore[arg-type]
                level=record["level"],  # type: ignore[arg-type]
                direction=record["direction"],  # type: ignore[arg-type]
                **thresholds,
            )
        )
    return tuple(rules)


def _feature_value(features: Mapping[str, object], name: str) -> float | None:
    """Read a feature as a float, mapping absent/None/NaN to ``None`` (inert).

    Non-numeric values raise instead of being treated as missing: a string in
    a feature column is a data bug that should not quietly disable a rule.
    """
    value = features.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"feature {name!r} must be a real number or None, got {value!r}")
    number = float(value)
    return None if math.isnan(number) else number


def _rules_by_level(rules: Sequence[RegimeRule]) -> tuple[tuple[RegimeRule, ...], ...]:
    """Group rules by severity index, keeping their given order (index 0 = NORMAL, empty)."""
    for rule in rules:
        if not isinstance(rule, RegimeRule):
            raise TypeError(f"rules must be RegimeRule instances, got {rule!r}")
    return tuple(tuple(r for r in rules if r.severity == level) for level in range(len(LEVELS)))


def _step(
    previous: RegimeStep | None,
    values: Mapping[str, float | None],
    by_level: tuple[tuple[RegimeRule, ...], ...],
    min_days: int,
) -> RegimeStep:
    """Advance the regime by one observation (the whole state machine)."""
    entering = [
        tuple(r.describe(r.enter_threshold) for r in level_rules if r.enters(values[r.feature]))
        for level_rules in by_level
    ]
    target = max((lvl for lvl, hits in enumerate(entering) if hits), default=0)

    if previous is None:
        return RegimeStep(LEVELS[target], target, 1, entering[target], changed=False)

    current = previous.regime_level
    if target > current:
        return RegimeStep(LEVELS[target], target, 1, entering[target], changed=True)

    holding = tuple(
        r.describe(r.exit_threshold) for r in by_level[current] if r.holds(values[r.feature])
    )
    if current > 0 and not holding and previous.days_in_regime >= min_days:
        lower = current - 1
        lower_holding = tuple(
            r.describe(r.exit_threshold) for r in by_level[lower] if r.holds(values[r.feature])
        )
        return RegimeStep(LEVELS[lower], lower, 1, lower_holding, changed=True)

    return RegimeStep(LEVELS[current], current, previous.days_in_regime + 1, holding, False)


def classify_regimes(
    features: Sequence[Mapping[str, float | None]],
    rules: Sequence[RegimeRule],
    min_days: int = 5,
    initial: RegimeStep | None = None,
) -> list[RegimeStep]:
    """Classify a date-ordered sequence of feature rows into regimes.

    For each observation, in order:

    1. If the highest level whose entry condition (any of its rules enters)
       holds is above the current level, jump straight there (days = 1).
    2. Else, if the current level's stay condition (any of its rules holds)
       fails *and* the previous ``days_in_regime >= min_days``, drop exactly
       one level (days = 1).  So every level is shown for at least
       ``min_days`` rows before it can be left downwards, and a multi-level
       recovery takes at least ``min_days`` rows per level.
    3. Else stay (days + 1).

    The first observation starts at the highest level whose entry condition
    holds, or NORMAL.  ``days_in_regime`` counts the day of entry as 1.
    Features referenced by no rule are ignored; features referenced by a rule
    but absent, None or NaN make that rule inert for that row.

    ``initial``: the step of the observation just before ``features[0]``
    (a stored run's last step): the recursion continues from it, so
    classifying a series in two parts, the second from the first's last
    step, gives exactly the steps of classifying it whole. None: the series
    starts here (the first observation rule above).

    Runs in O(len(features) * len(rules)), with no hidden state.
    """
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 1:
        raise ValueError(f"min_days must be an integer >= 1, got {min_days!r}")
    by_level = _rules_by_level(rules)
    names = sorted({rule.feature for rule in rules})
    if initial is not None and not isinstance(initial, RegimeStep):
        raise TypeError(f"initial must be a RegimeStep or None, got {initial!r}")
    steps: list[RegimeStep] = []
    previous: RegimeStep | None = initial
    for row in features:
        values = {name: _feature_value(row, name) for name in names}
        previous = _step(previous, values, by_level, min_days)
        steps.append(previous)
    return steps


def classify_regime_frame(
    frame: pd.DataFrame,
    rules: Sequence[RegimeRule],
    min_days: int = 5,
    initial: RegimeStep | None = None,
) -> pd.DataFrame:
    """pandas wrapper around :func:`classify_regimes`.

    ``frame`` has one row per date, in date order (checked: the index must be
    unique and increasing), and one column per feature; rule features missing
    from the columns are inert.  Returns a frame on the same index with
    columns ``regime``, ``regime_level``, ``days_in_regime``,
    ``regime_changed``, ``regime_drivers`` (``entered_by`` joined by
    ``'; '``, empty string when none) and ``regime_state`` (the recursion's
    state after the row, :func:`regime_step_state`). ``initial`` continues
    a stored series (see :func:`classify_regimes`).
    """
    import pandas as pd

    if not (frame.index.is_unique and frame.index.is_monotonic_increasing):
        raise ValueError("frame index must be unique and sorted ascending (one row per date)")
    columns = sorted({rule.feature for rule in rules} & set(frame.columns))
    # to_numpy with na_value maps pd.NA (nullable dtypes) to NaN, which is inert.
    values = frame[columns].to_numpy(dtype="float64", na_value=float("nan"))
    rows = [dict(zip(columns, row.tolist(), strict=True)) for row in values]
    steps = classify_regimes(rows, rules, min_days, initial)
    return pd.DataFrame(
        {
            "regime": [s.regime for s in steps],
            "regime_level": [s.regime_level for s in steps],
            "days_in_regime": [s.days_in_regime for s in steps],
            "regime_changed": [s.changed for s in steps],
            "regime_drivers": ["; ".join(s.entered_by) for s in steps],
            "regime_state": [regime_step_state(s) for s in steps],
        },
        index=frame.index,
    )


def transition_counts(regimes: Sequence[str]) -> dict[tuple[str, str], int]:
    """Count regime changes ``(from, to)`` between consecutive observations.

    Self-transitions are not counted: the point is to measure thrash (the
    design target is fewer than ~20 changes a year).  Keys appear in order of
    first occurrence, so the result is deterministic.
    """
    counts: dict[tuple[str, str], int] = {}
    for before, after in pairwise(regimes):
        if before != after:
            counts[(before, after)] = counts.get((before, after), 0) + 1
    return counts
