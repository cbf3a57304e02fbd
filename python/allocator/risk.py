"""Regime -> risk scalar: target mapping and EWMA smoothing.

The risk layer turns a regime series into a portfolio-level exposure scalar in
``[floor, cap]`` (the calibration's: [0.10, 1.0] for the default trailing_dd_v1,
[0.25, 1.0] for the seeds' seeds_v1):

1. each regime maps to a target scalar (:func:`target_scalars`);
2. targets are smoothed with an EWMA so exposure moves gradually instead of
   jumping with every regime change (:func:`smooth_risk_scalar`).

When that scalar reaches the book is the cadence's rule, set-based and in
SQL: the lag by one rebalance in models/allocator/allocator_risk_v1_applied.sql
and the delivery of each cadence in macros/scalar_delivery.sql.

All functions are pure and operate on plain sequences/mappings.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from types import MappingProxyType

__all__ = [
    "DEFAULT_REGIME_TARGETS",
    "clip_scalars",
    "ewma_states",
    "smooth_risk_scalar",
    "target_scalars",
]

#: Target exposure per regime (read-only): the seeds' map, calibration
#: seeds_v1. A run's map is its calibration's rows of the scalars seed.
DEFAULT_REGIME_TARGETS: Mapping[str, float] = MappingProxyType(
    {"NORMAL": 1.00, "ELEVATED": 0.85, "STRESS": 0.55, "CRISIS": 0.30}
)


def _finite_real(value: object) -> bool:
    """True for finite real numbers (bools excluded: they are never a scalar)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def target_scalars(regimes: Sequence[str], targets: Mapping[str, float]) -> list[float]:
    """Map each regime label to its target scalar.

    An unknown label raises instead of defaulting, because silently treating a
    typo (or a new regime) as full risk would defeat the allocator.
    """
    out: list[float] = []
    for regime in regimes:
        if regime not in targets:
            raise ValueError(f"unknown regime {regime!r}: no target in {sorted(targets)}")
        target = targets[regime]
        if not _finite_real(target):
            raise ValueError(f"target for regime {regime!r} must be a finite number: {target!r}")
        out.append(float(target))
    return out


def ewma_states(
    targets: Sequence[float], alpha: float = 0.25, initial: float | None = None
) -> list[float]:
    """The unclipped EWMA after each target: the recursion's state.

    ``s_0 = target_0`` (or ``alpha * target_0 + (1 - alpha) * initial`` when
    ``initial``, a stored run's last state, is given) and
    ``s_t = alpha * target_t + (1 - alpha) * s_{t-1}``. Smoothing a series in
    two parts, the second from the first's last state, gives exactly the
    states of smoothing it whole.
    """
    if not (_finite_real(alpha) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must satisfy 0 < alpha <= 1, got {alpha!r}")
    if initial is not None and not _finite_real(initial):
        raise ValueError(f"initial must be a finite number or None, got {initial!r}")
    out: list[float] = []
    state = 0.0 if initial is None else float(initial)
    for position, target in enumerate(targets):
        if not _finite_real(target):
            raise ValueError(f"target #{position} must be a finite number, got {target!r}")
        if position == 0 and initial is None:
            state = float(target)
        else:
            state = alpha * target + (1.0 - alpha) * state
        out.append(state)
    return out


def clip_scalars(states: Sequence[float], floor: float = 0.25, cap: float = 1.0) -> list[float]:
    """The risk scalars: EWMA states clipped to ``[floor, cap]``."""
    if not (_finite_real(floor) and _finite_real(cap) and 0.0 < floor <= cap):
        raise ValueError(f"need 0 < floor <= cap (finite), got floor={floor!r}, cap={cap!r}")
    return [min(max(state, floor), cap) for state in states]


def smooth_risk_scalar(
    targets: Sequence[float],
    alpha: float = 0.25,
    floor: float = 0.25,
    cap: float = 1.0,
    initial: float | None = None,
) -> list[float]:
    """EWMA-smooth target scalars and clip the result to ``[floor, cap]``.

    ``s_0 = target_0`` and ``s_t = alpha * target_t + (1 - alpha) * s_{t-1}``.

    The recursion runs on the *unclipped* EWMA; only the output is clipped.
    This keeps the smoother a plain linear filter of the targets (so it can be
    reproduced in SQL and reasoned about in closed form), and the clip acts
    purely as a final safety bound that never feeds back into the state.
    Seeding with the first target (rather than 1.0) means a series that starts
    in stress starts de-risked. ``initial`` continues a stored series from its
    last unclipped state (:func:`ewma_states`).
    """
    states = ewma_states(targets, alpha, initial)
    return clip_scalars(states, floor, cap)
