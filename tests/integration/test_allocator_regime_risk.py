"""Allocator v1 regime, risk and meta tables on the demo data: the calibrated
behaviour, scale-awareness, the EWMA, missing features, the implied correlation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from allocator.regime import transition_counts
from allocator.risk import DEFAULT_REGIME_TARGETS, smooth_risk_scalar
from allocator.run_config import CALIBRATIONS, DEFAULT_CALIBRATION
from tests.integration.conftest import PROJECT_DIR, AllocatorProject, result_message

META_TABLES = (
    "allocator_state_v1_meta",
    "allocator_regime_v1_meta",
    "allocator_risk_v1_meta",
    "allocator_risk_v1_applied_meta",
)


def regimes(project: AllocatorProject, run_id: str) -> dict[object, str]:
    return dict(
        project.query(
            "select date, regime from allocator_regime_v1 where run_id = ? order by date", [run_id]
        )
    )


def calibration_targets(calibration: str) -> dict[str, float]:
    """The calibration's rows of the scalars seed, read from the CSV itself."""
    with (PROJECT_DIR / "seeds" / "allocator_regime_scalars.csv").open(newline="") as handle:
        return {
            row["regime"]: float(row["target_scalar"])
            for row in csv.DictReader(handle)
            if row["calibration"] == calibration
        }


def calibration_figures(project: AllocatorProject, run_id: str) -> dict[str, float]:
    """One run's figures via analyses/allocator_regime_calibration.sql."""
    result = project.invoke(
        [
            "compile",
            "--select",
            "allocator_regime_calibration",
            "--vars",
            json.dumps({"run_id": run_id}),
        ]
    )
    assert result.success, result_message(result)
    sql = result.result.results[0].node.compiled_code
    return {name: float(value) for name, value, _ in project.query(sql)}


def test_calibration_figures_from_the_analysis(allocator_project: AllocatorProject) -> None:
    """The seeds' behaviour targets (~70 / 20 / 8 / 2 %, Q4 2008 and March 2020
    in STRESS or CRISIS), met by scale_free_v1, the default until issue 21,
    selected by name."""
    run = allocator_project.run("sfree")
    figures = calibration_figures(allocator_project, run)
    assert figures["share_normal"] == pytest.approx(0.70, abs=0.05)
    assert figures["share_elevated"] == pytest.approx(0.20, abs=0.05)
    assert figures["share_stress"] == pytest.approx(0.08, abs=0.03)
    assert figures["share_crisis"] == pytest.approx(0.02, abs=0.015)
    assert figures["regime_changes_per_year"] < 20
    assert figures["stress_or_crisis_share_2008_q4"] >= 0.9
    assert figures["stress_or_crisis_share_2020_03"] >= 0.9


def test_the_default_calibration_releases_and_keeps_its_demo_figures(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    """trailing_dd_v1 on the demo: 76.3 / 19.3 / 3.6 / 0.8 %, 80 changes on
    4,529 dates (the two-pass audit's figures; the state warms up on the 59
    sessions before start, so the regime exists from 2005-01-03: before, 78
    changes on the 4,470 dates from 2005-03-30), within the issue's criteria
    (NORMAL >= 40%, CRISIS <= 10%), March 2020 in STRESS or CRISIS. Q4 2008 is
    NORMAL: the demo book's 20-day vol then stayed below its long-run vol and
    its drawdown short of 1.2 long-run vols; only scale_free_v1's correlation
    rule saw that quarter (above)."""
    assert DEFAULT_CALIBRATION == "trailing_dd_v1"
    figures = calibration_figures(allocator_project, base_run)
    assert figures["share_normal"] == pytest.approx(3455 / 4529, abs=1e-9)
    assert figures["share_elevated"] == pytest.approx(873 / 4529, abs=1e-9)
    assert figures["share_stress"] == pytest.approx(163 / 4529, abs=1e-9)
    assert figures["share_crisis"] == pytest.approx(38 / 4529, abs=1e-9)
    assert figures["share_normal"] >= 0.40 and figures["share_crisis"] <= 0.10
    assert figures["regime_changes_per_year"] == pytest.approx(80 * 252 / 4529, abs=1e-9)
    assert figures["stress_or_crisis_share_2020_03"] == 1.0
    assert figures["stress_or_crisis_share_2008_q4"] == 0.0
    # it releases: the longest STRESS/CRISIS spell is March 2020's, 91 sessions
    path = regimes(allocator_project, base_run)
    longest, current, start, spell = 0, 0, None, (None, None)
    for day, regime in path.items():
        if regime in ("STRESS", "CRISIS"):
            start = day if current == 0 else start
            current += 1
            if current > longest:
                longest, spell = current, (start, day)
        else:
            current = 0
    assert longest == 91
    assert [str(day) for day in spell] == ["2020-02-27", "2020-07-07"]


def test_the_seeds_calibration_keeps_its_demo_figures(allocator_project: AllocatorProject) -> None:
    """seeds_v1 classifies exactly as the seeds did before calibrations existed
    (70.2 / 20.2 / 7.7 / 1.9%, 97 changes on the 4,470 dates from 2005-03-30:
    the figures the governor study reproduced from the stored demo run). The
    warm-up from history adds the window's first 59 sessions, all NORMAL, and
    changes none of the others: 3,198 / 902 / 344 / 85 of 4,529 dates."""
    figures = calibration_figures(allocator_project, allocator_project.run("seeds"))
    assert figures["share_normal"] == pytest.approx((0.702 * 4470 + 59) / 4529, abs=5e-4)
    assert figures["share_elevated"] == pytest.approx(0.202 * 4470 / 4529, abs=5e-4)
    assert figures["share_stress"] == pytest.approx(0.077 * 4470 / 4529, abs=5e-4)
    assert figures["share_crisis"] == pytest.approx(0.019 * 4470 / 4529, abs=5e-4)
    assert figures["regime_changes_per_year"] == pytest.approx(97 * 252 / 4529, abs=1e-9)
    assert figures["stress_or_crisis_share_2008_q4"] == pytest.approx(0.969, abs=5e-4)
    assert figures["stress_or_crisis_share_2020_03"] == 1.0


def test_no_regime_is_invented_before_the_warm_up(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    ready = [
        row[0]
        for row in allocator_project.query(
            "select date from allocator_state_v1 where run_id = ? and is_ready order by date",
            [base_run],
        )
    ]
    assert list(regimes(allocator_project, base_run)) == ready
    first = allocator_project.query(
        "select regime, days_in_regime, regime_changed from allocator_regime_v1 "
        "where run_id = ? order by date limit 1",
        [base_run],
    )
    assert first == [("NORMAL", 1, False)]


def warm_up_meta(project: AllocatorProject, run_id: str) -> tuple[object, ...]:
    return project.query(
        "select warm_up_sessions, warm_up_first_date, is_ready_at_start, first_ready_date, "
        "first_date from allocator_state_v1_meta where run_id = ?",
        [run_id],
    )[0]


def test_history_before_start_gives_a_regime_from_the_first_session(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    """A returns file with 59 sessions before start: its state warms up on them,
    so the regime exists on the first session of the window (before the
    warm-up from history, the first 59 sessions had none), and every
    book-level feature equals the base run's, which warmed up on the same
    book. The run still publishes only its window."""
    run = allocator_project.run("ret")
    sessions, first_warm_up, ready_at_start, first_ready, first_date = warm_up_meta(
        allocator_project, run
    )
    assert (sessions, ready_at_start, first_ready) == (59, True, first_date)
    assert first_warm_up < first_date
    assert min(regimes(allocator_project, run)) == first_date
    assert len(regimes(allocator_project, run)) == 4529
    assert allocator_project.query(
        "select count(*), min(date) from portfolio_returns where run_id = ?", [run]
    ) == [(4529, first_date)]
    gap, compared = allocator_project.query(
        "select max(abs(r.port_rvol_60d - b.port_rvol_60d) + abs(r.dd_level - b.dd_level) "
        "+ abs(r.dd_level_252d - b.dd_level_252d)), count(r.port_rvol_60d) "
        "from allocator_state_v1 as r inner join allocator_state_v1 as b using (date) "
        "where r.run_id = ? and b.run_id = ?",
        [run, base_run],
    )[0]
    assert compared == 4529
    assert gap <= 1e-12


def test_no_history_before_start_warms_up_inside_the_window_as_before(
    allocator_project: AllocatorProject,
) -> None:
    """The same returns from start only: nothing to warm up on, so the first 59
    sessions have no state and no regime, and the meta says so."""
    run = allocator_project.run("ret_bare")
    sessions, first_warm_up, ready_at_start, first_ready, first_date = warm_up_meta(
        allocator_project, run
    )
    assert (sessions, first_warm_up, ready_at_start) == (0, None, False)
    dates = [
        row[0]
        for row in allocator_project.query(
            "select date from allocator_state_v1 where run_id = ? order by date", [run]
        )
    ]
    assert dates[0] == first_date and len(dates) == 4529
    assert first_ready == dates[59]
    assert list(regimes(allocator_project, run)) == dates[59:]
    assert allocator_project.query(
        "select count(*) from allocator_state_v1 where run_id = ? and not is_ready "
        "and port_rvol_20d is null and dd_level is null",
        [run],
    ) == [(59,)]


def test_regime_rows_are_consistent(allocator_project: AllocatorProject, base_run: str) -> None:
    rows = allocator_project.query(
        "select regime, regime_level, days_in_regime, regime_changed, regime_drivers "
        "from allocator_regime_v1 where run_id = ? order by date",
        [base_run],
    )
    levels = {"NORMAL": 0, "ELEVATED": 1, "STRESS": 2, "CRISIS": 3}
    previous = None
    for regime, level, days, changed, drivers in rows:
        assert levels[regime] == level
        if previous is not None:
            assert changed == (regime != previous[0])
            assert days == (1 if changed else previous[2] + 1)
            # de-escalation: one level at a time, after at least min_days (5)
            if level < previous[1]:
                assert level == previous[1] - 1
                assert previous[2] >= 5
        if changed and level > (previous[1] if previous else 0):
            assert drivers, "an escalation names the rules that crossed"
        previous = (regime, level, days)
    changes = sum(transition_counts([r[0] for r in rows]).values())
    assert changes == sum(r[3] for r in rows)


@pytest.mark.parametrize(
    ("run_id", "calibration", "alpha", "floor"),
    [
        ("base", "trailing_dd_v1", 0.5, 0.10),
        ("sfree", "scale_free_v1", 0.5, 0.10),
        ("seeds", "seeds_v1", 0.25, 0.25),
    ],
)
def test_risk_scalar_is_the_clipped_ewma_of_the_targets(
    allocator_project: AllocatorProject, run_id: str, calibration: str, alpha: float, floor: float
) -> None:
    """Each calibration's own targets and EWMA settings, as its defaults say."""
    run = allocator_project.run(run_id)
    rows = allocator_project.query(
        "select regime, target_scalar, risk_scalar from allocator_risk_v1 "
        "where run_id = ? order by date",
        [run],
    )
    targets = calibration_targets(calibration)
    if calibration == "seeds_v1":
        assert targets == dict(DEFAULT_REGIME_TARGETS)
    assert [r[1] for r in rows] == [targets[r[0]] for r in rows]
    assert CALIBRATIONS[calibration]["allocator_risk_ewma_alpha"] == alpha
    assert CALIBRATIONS[calibration]["allocator_risk_scalar_floor"] == floor
    expected = smooth_risk_scalar([r[1] for r in rows], alpha=alpha, floor=floor, cap=1.0)
    assert np.max(np.abs(np.array([r[2] for r in rows]) - np.array(expected))) <= 1e-15
    assert min(r[2] for r in rows) == pytest.approx(
        floor if calibration != "seeds_v1" else 0.30, abs=0.01
    )
    assert list(regimes(allocator_project, run).values()) == [r[0] for r in rows]


def test_regime_path_is_scale_aware(allocator_project: AllocatorProject, base_run: str) -> None:
    """The same book at half the risk (weights x 0.5, so returns x 0.5) keeps
    (nearly) the same regime path under the default rules."""
    half = allocator_project.run("half")
    ((rows, ratio_low, ratio_high),) = allocator_project.query(
        "select count(*), min(h.net_return / b.net_return), max(h.net_return / b.net_return) "
        "from portfolio_returns_unscaled as h inner join portfolio_returns_unscaled as b "
        "using (date) where h.run_id = ? and b.run_id = ? and b.net_return <> 0",
        [half, base_run],
    )
    assert rows > 4000
    assert ratio_low == pytest.approx(0.5, abs=1e-9)
    assert ratio_high == pytest.approx(0.5, abs=1e-9)
    base, scaled = regimes(allocator_project, base_run), regimes(allocator_project, half)
    assert list(base) == list(scaled)
    agreement = np.mean([base[day] == scaled[day] for day in base])
    assert agreement >= 0.99
    half_vol = allocator_project.query(
        "select avg(h.port_rvol_60d / b.port_rvol_60d) from allocator_state_v1 as h "
        "inner join allocator_state_v1 as b using (date) where h.run_id = ? and b.run_id = ?",
        [half, base_run],
    )[0][0]
    assert half_vol == pytest.approx(0.5, abs=1e-9)


def test_meta_tables_one_row_per_run_with_the_config_hash(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    compute = allocator_project.run("cmp")
    hashes = {}
    for table in META_TABLES:
        rows = allocator_project.query(
            f"select run_id, version, parameters, features_present, features_missing, "
            f"first_date, last_date, row_count, config_hash, created_at from {table} "
            f"where run_id in (?, ?) order by run_id",
            [base_run, compute],
        )
        assert [r[0] for r in rows] == [base_run, compute]
        for (
            run_id,
            version,
            parameters,
            present,
            missing,
            first,
            last,
            count,
            config_hash,
            created,
        ) in rows:
            assert version == "v1.0"
            assert isinstance(json.loads(parameters), dict)
            assert isinstance(json.loads(present), list)
            assert isinstance(json.loads(missing), dict)
            assert first <= last and count > 0 and created is not None
            hashes.setdefault(run_id, set()).add(config_hash)
    assert all(len(found) == 1 for found in hashes.values())
    assert hashes[base_run] != hashes[compute], "different modes are different configurations"
    regime_parameters = json.loads(
        allocator_project.query(
            "select parameters from allocator_regime_v1_meta where run_id = ?", [base_run]
        )[0][0]
    )
    assert regime_parameters["min_days"] == 5
    assert regime_parameters["calibration"] == "trailing_dd_v1"
    assert len(regime_parameters["rules"]) == 6
    assert {rule["feature"] for rule in regime_parameters["rules"]} == {
        "vol_accel",
        "rvol_ratio_long_run",
        "dd_504d_vol_units",
    }
    risk_parameters = json.loads(
        allocator_project.query(
            "select parameters from allocator_risk_v1_meta where run_id = ?", [base_run]
        )[0][0]
    )
    assert risk_parameters["calibration"] == "trailing_dd_v1"
    assert risk_parameters["ewma_alpha"] == 0.5
    assert risk_parameters["scalar_floor"] == 0.1
    assert risk_parameters["targets"] == calibration_targets("trailing_dd_v1")


def test_implied_correlation_tracks_the_exact_one(
    allocator_project: AllocatorProject, base_run: str
) -> None:
    """Above correlation_exact_max_symbols the O(N) implied estimator is used;
    its error against the exact value on the demo is small (documented in
    models/allocator/_allocator__models.yml)."""
    implied = allocator_project.run("implied")
    assert allocator_project.query(
        "select distinct correlation_method from allocator_state_v1 where run_id = ?", [implied]
    ) == [("implied",)]
    ((rows, bias_20, mae_20, mae_60, max_60, agreement),) = allocator_project.query(
        "select count(*), avg(i.corr_20d - e.corr_20d), avg(abs(i.corr_20d - e.corr_20d)), "
        "avg(abs(i.corr_60d - e.corr_60d)), max(abs(i.corr_60d - e.corr_60d)), "
        "avg(case when ri.regime = re.regime then 1.0 else 0.0 end) "
        "from allocator_state_v1 as i inner join allocator_state_v1 as e using (date) "
        "inner join allocator_regime_v1 as ri on ri.run_id = i.run_id and ri.date = i.date "
        "inner join allocator_regime_v1 as re on re.run_id = e.run_id and re.date = e.date "
        "where i.run_id = ? and e.run_id = ?",
        [implied, base_run],
    )
    assert rows == 4529
    assert abs(bias_20) < 0.02
    assert mae_20 < 0.025
    assert mae_60 < 0.025
    assert max_60 < 0.2
    assert agreement > 0.95


def test_returns_only_portfolio(allocator_project: AllocatorProject, base_run: str) -> None:
    """No holdings: correlations and engine health are left out (null, listed with
    reasons); the book-level features equal the same book's; the scaled return is
    the unscaled one x the scalar of the previous day's rebalance, less the
    overlay's cost: |change in scalar| x a gross exposure of 1 x 5 bps (core_v1)."""
    run = allocator_project.run("ret")
    missing = json.loads(
        allocator_project.query(
            "select features_missing from allocator_state_v1_meta where run_id = ?", [run]
        )[0][0]
    )
    assert set(missing) == {
        "corr_20d",
        "corr_60d",
        "corr_shock",
        "trend_breadth_20d",
        "sleeve_concentration_60d",
        "corr_excess",
    }
    assert all("returns-only" in reason for reason in missing.values())
    assert allocator_project.query(
        "select count(corr_20d) + count(corr_excess), count(corr_shock), count(trend_breadth_20d), "
        "count(sleeve_concentration_60d), count(correlation_method), count(dd_level) > 4000 "
        "from allocator_state_v1 where run_id = ?",
        [run],
    ) == [(0, 0, 0, 0, 0, True)]
    (vol_diff,) = allocator_project.query(
        "select max(abs(r.port_rvol_20d - b.port_rvol_20d) + abs(r.dd_level - b.dd_level)) "
        "from allocator_state_v1 as r inner join allocator_state_v1 as b using (date) "
        "where r.run_id = ? and b.run_id = ?",
        [run, base_run],
    )[0]
    assert vol_diff <= 1e-12
    regime_missing = json.loads(
        allocator_project.query(
            "select features_missing from allocator_regime_v1_meta where run_id = ?", [run]
        )[0][0]
    )
    # the default calibration reads no correlation: a returns-only book keeps
    # every rule, the trailing drawdown derived from a feature it has
    assert regime_missing == {}
    regime_present = json.loads(
        allocator_project.query(
            "select features_present from allocator_regime_v1_meta where run_id = ?", [run]
        )[0][0]
    )
    assert set(regime_present) == {"vol_accel", "rvol_ratio_long_run", "dd_504d_vol_units"}
    rows = allocator_project.query(
        "select s.date, s.held_rebalance_date, s.risk_scalar_used, s.net_return, u.net_return, "
        "a.risk_scalar_used "
        "from portfolio_returns_scaled as s "
        "inner join portfolio_returns_unscaled as u on u.run_id = s.run_id and u.date = s.date "
        "left join allocator_scalars_at_rebalances as a "
        "on a.run_id = s.run_id and a.rebalance_date = s.held_rebalance_date "
        "where s.run_id = ? order by s.date",
        [run],
    )
    assert len(rows) == 4529
    assert rows[0][1] is None and rows[0][2] == 1.0  # apply_missing_scalar_as
    previous = rows[0][2]
    for day, held, used, scaled, unscaled, at_rebalance in rows[1:]:
        assert held < day
        assert used == at_rebalance
        overlay_cost = abs(used - previous) * 5 / 10000
        assert scaled == pytest.approx(unscaled * used - overlay_cost, abs=1e-15)
        previous = used
    assert min(r[2] for r in rows) < 1.0
    (rebalances,) = allocator_project.query(
        "select count(*) from allocator_risk_v1_applied where run_id = ?", [run]
    )[0]
    assert rebalances == 4529


def test_single_sleeve_leaves_concentration_out(allocator_project: AllocatorProject) -> None:
    run = allocator_project.run("trend")
    present, missing = allocator_project.query(
        "select features_present, features_missing from allocator_state_v1_meta where run_id = ?",
        [run],
    )[0]
    assert "trend_breadth_20d" in json.loads(present)
    assert json.loads(missing) == {
        "sleeve_concentration_60d": "single sleeve (trend): concentration is 1 by construction"
    }
    assert allocator_project.query(
        "select count(sleeve_concentration_60d), count(trend_breadth_20d) > 0 "
        "from allocator_state_v1 where run_id = ?",
        [run],
    ) == [(0, True)]
