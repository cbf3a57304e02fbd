"""The calibrations the protocol chooses among: a small, round grid around
the project's default until issue 21 (scale_free_v1), varying what the
cross-universe misses point at and nothing else:

* the drawdown rule: from the all-time high (dd_vol_units, today) or from
  the last year's high (dd_252d_vol_units), at three depths;
* the correlation rules: today's, without the CRISIS rule, wider, or none
  (a book with fewer than two held symbols has none anyway);
* the vol shock that enters CRISIS: 3.5 or 4 long-run vols;
* the scalar map: today's 1 / 0.70 / 0.35 / 0.10 or a gentler 1 / 0.75 /
  0.45 / 0.20.

Every other rule (vol_accel, rvol ELEVATED and STRESS), the EWMA alpha
(0.5), floor (0.10), min_days (5) and the daily cadence stay as they are.
"""

from __future__ import annotations

import itertools

from protocol import Candidate

from allocator.regime import RegimeRule

DRAWDOWN = {
    # name: (feature, ELEVATED enter/exit, STRESS enter/exit), or
    # (ELEVATED feature, enter/exit, STRESS feature, enter/exit)
    "ath": ("dd_vol_units", (-1.2, -0.95), (-1.6, -1.25)),
    "trail": ("dd_252d_vol_units", (-1.2, -0.95), (-1.6, -1.25)),
    "trail_shallow": ("dd_252d_vol_units", (-1.0, -0.8), (-1.5, -1.2)),
    "trail504": ("dd_504d_vol_units", (-1.2, -0.95), (-1.6, -1.25)),
    "trail504_shallow": ("dd_504d_vol_units", (-1.0, -0.8), (-1.5, -1.2)),
    # ELEVATED from the 2-year high (a long bear keeps the book at 0.70),
    # STRESS from the 1-year high (no STRESS spell outlives a year of calm)
    "hybrid": ("dd_504d_vol_units", (-1.2, -0.95), "dd_252d_vol_units", (-1.6, -1.25)),
    "hybrid_shallow": ("dd_504d_vol_units", (-1.0, -0.8), "dd_252d_vol_units", (-1.5, -1.2)),
}
CORRELATION = {
    # name: {level: (enter, exit)}
    "corr": {"ELEVATED": (0.35, 0.25), "STRESS": (0.40, 0.30), "CRISIS": (0.60, 0.50)},
    "corr_elevated": {"ELEVATED": (0.40, 0.30)},
    "corr_wide": {"ELEVATED": (0.40, 0.30), "STRESS": (0.50, 0.40), "CRISIS": (0.70, 0.60)},
    "no_corr": {},
}
CRISIS_VOL = {"rv3.5": (3.5, 2.8)}
MAPS = {"map70": (1.0, 0.70, 0.35, 0.10), "map75": (1.0, 0.75, 0.45, 0.20)}


def candidate(drawdown: str, correlation: str, crisis_vol: str, scalar_map: str) -> Candidate:
    spec = DRAWDOWN[drawdown]
    elevated_feature, elevated = (spec[0], spec[1]) if len(spec) == 3 else (spec[0], spec[1])
    stress_feature, stress = (spec[0], spec[2]) if len(spec) == 3 else (spec[2], spec[3])
    rules = [
        RegimeRule("vol_accel", "ELEVATED", "above", 1.45, 1.15),
        RegimeRule("rvol_ratio_long_run", "ELEVATED", "above", 1.5, 1.2),
        RegimeRule("rvol_ratio_long_run", "STRESS", "above", 2.5, 2.0),
        RegimeRule("rvol_ratio_long_run", "CRISIS", "above", *CRISIS_VOL[crisis_vol]),
        RegimeRule(elevated_feature, "ELEVATED", "below", *elevated),
        RegimeRule(stress_feature, "STRESS", "below", *stress),
    ]
    rules += [
        RegimeRule("corr_excess", level, "above", enter, exit_)
        for level, (enter, exit_) in CORRELATION[correlation].items()
    ]
    return Candidate(
        name=f"{drawdown}/{correlation}/{crisis_vol}/{scalar_map}",
        rules=tuple(sorted(rules, key=lambda r: (r.feature, r.level))),
        targets=MAPS[scalar_map],
    )


def grid() -> list[Candidate]:
    """Every combination; the project's default (ath/corr/rv3.5/map70) first."""
    out = [
        candidate(*names) for names in itertools.product(DRAWDOWN, CORRELATION, CRISIS_VOL, MAPS)
    ]
    return out
