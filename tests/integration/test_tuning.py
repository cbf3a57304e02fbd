"""Stage 7 tuning on the demo: the sweep's books equal full runs, and the
walk-forward, deflated Sharpe and PBO equal independent pandas/numpy
computations over the sweep's own daily returns.

One compute-mode demo run is the baseline; a small grid (a dozen
configurations) keeps the sweep quick; full runs with the same settings are
built for a sample of them.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from allocator.governor_config import read_governor_config
from allocator.tune import TuneRequest, apply_command, tune
from allocator.tuning import governor_document, governor_from_config_json
from allocator.workflow import Settings
from tests.integration.conftest import (
    NO_TESTS,
    PROJECT_DIR,
    AllocatorProject,
    dbt_environment,
    result_message,
)

TUNING_ID = "tt"
BASELINE = "cmp"
# (elevated, stress, crisis multipliers, min_days, targets NORMAL..CRISIS, alpha, floor, cadence)
GRID = [
    (1.0, 1.0, 1.0, 3, (1.0, 0.85, 0.55, 0.30), 0.5, 0.10, "daily"),
    (0.85, 1.0, 1.2, 5, (1.0, 0.70, 0.35, 0.10), 0.25, 0.10, "rebalance"),
    # ELEVATED's thresholds up 10%, still below STRESS's (a swap is not tried)
    (1.1, 1.0, 1.0, 10, (1.0, 0.80, 0.45, 0.20), 0.5, 0.25, "rebalance_lagged"),
    (1.0, 1.15, 1.0, 5, (1.0, 0.85, 0.55, 0.30), 0.25, 0.25, "daily"),
    (0.85, 0.9, 1.0, 3, (1.0, 0.80, 0.45, 0.20), 0.5, 0.10, "rebalance_lagged"),
    (1.0, 1.0, 1.2, 10, (1.0, 0.70, 0.35, 0.10), 0.25, 0.10, "daily"),
    (1.15, 1.15, 1.2, 5, (1.0, 0.85, 0.55, 0.30), 0.5, 0.25, "rebalance"),
    (1.0, 1.0, 1.0, 5, (1.0, 0.85, 0.55, 0.30), 0.25, 0.25, "rebalance"),
    (0.85, 0.85, 1.0, 5, (1.0, 0.85, 0.55, 0.30), 0.25, 0.25, "rebalance_lagged"),
    # = the baseline cmp's governor: the default calibration (trailing_dd_v1) delivered at the
    # seeds' cadence
    (1.0, 1.0, 1.0, 5, (1.0, 0.70, 0.35, 0.10), 0.5, 0.10, "rebalance_lagged"),
]
SHARE_TARGETS = {
    "normal": (0.70, 0.10),
    "elevated": (0.20, 0.10),
    "stress": (0.08, 0.05),
    "crisis": (0.02, 0.02),
}


@pytest.fixture(scope="module")
def tuning(allocator_project: AllocatorProject) -> AllocatorProject:
    allocator_project.run(BASELINE)
    grid = allocator_project.work_dir / "tuning_grid.csv"
    rows = [
        {
            "elevated_multiplier": e,
            "stress_multiplier": s,
            "crisis_multiplier": c,
            "min_days": m,
            "target_normal": t[0],
            "target_elevated": t[1],
            "target_stress": t[2],
            "target_crisis": t[3],
            "alpha": a,
            "floor": f,
            "cadence": k,
        }
        for e, s, c, m, t, a, f, k in GRID
    ]
    pd.DataFrame(rows).to_csv(grid, index=False)
    result = allocator_project.invoke(
        ["build", "--select", "tag:tuning"],
        {
            "tuning_id": TUNING_ID,
            "tuning_baseline_run_id": BASELINE,
            "tuning_grid_path": str(grid),
            "tuning_pbo_splits": 8,
        },
    )
    assert result.success, result_message(result)
    return allocator_project


def _sessions(project: AllocatorProject) -> pd.DataFrame:
    return project.frame(
        "select config_id, date, regime_level, net_return from build.tuning_sessions "
        "order by config_id, date"
    )


def test_grid_keeps_distinct_configurations_and_the_defaults_first(
    tuning: AllocatorProject,
) -> None:
    grid = tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = ? order by config_id",
        [TUNING_ID],
    )
    # the last grid row repeats the baseline's settings: dropped, config 0 stands for it
    assert len(grid) == len(GRID)
    assert grid.loc[0, "is_default"] and grid.loc[0, "cadence"] == "rebalance_lagged"
    assert grid["is_chosen"].sum() == 1


def test_defaults_equal_the_baseline_scaled_book(tuning: AllocatorProject) -> None:
    sweep = tuning.frame(
        "select date, net_return from build.tuning_sessions where config_id = 0 order by date"
    )
    run = tuning.frame(
        "select date, net_return from artifacts.portfolio_returns_scaled "
        "where run_id = ? order by date",
        [BASELINE],
    )
    assert len(sweep) == len(run) > 4000
    assert np.max(np.abs(sweep["net_return"].to_numpy() - run["net_return"].to_numpy())) <= 1e-12


@pytest.mark.parametrize("config_id", [1, 2, 3])
def test_sample_configuration_equals_a_full_run(tuning: AllocatorProject, config_id: int) -> None:
    """A full compute run with the configuration as its governor config (var
    governor_config, what `allocator run --governor-config` passes)."""
    row = tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = ? and config_id = ?",
        [TUNING_ID, config_id],
    ).iloc[0]
    (config_json,) = tuning.query(
        "select config_json from marts.runs where run_id = ?", [BASELINE]
    )[0]
    document = governor_document(governor_from_config_json(config_json), row.to_dict())
    run_id = f"tuned_{config_id}"
    result = tuning.invoke(
        ["build", *NO_TESTS],
        {
            "run_id": run_id,
            "allocator_v1": {"enabled": True, "mode": "compute"},
            "governor_config": json.loads(json.dumps(document)),
        },
    )
    assert result.success, result_message(result)
    run = tuning.frame(
        "select date, risk_scalar_used, net_return from artifacts.portfolio_returns_scaled "
        "where run_id = ? order by date",
        [run_id],
    )
    sweep = tuning.frame(
        "select date, risk_scalar_used, net_return from build.tuning_sessions "
        "where config_id = ? order by date",
        [config_id],
    )
    assert list(sweep["date"]) == list(run["date"])
    assert np.max(np.abs(sweep["risk_scalar_used"] - run["risk_scalar_used"])) <= 1e-12
    assert np.max(np.abs(sweep["net_return"] - run["net_return"])) <= 1e-12
    # the run classified with the configuration's own rules
    (stored,) = tuning.query("select config_json from marts.runs where run_id = ?", [run_id])[0]
    assert json.loads(stored)["regime_calibration"]["name"] == "governor_config"


def _window_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """One configuration's metrics and behaviour on a window, written out with pandas."""
    returns = frame["net_return"].to_numpy()
    wealth = np.cumprod(1 + returns)
    drawdown = wealth / np.maximum(1.0, np.maximum.accumulate(wealth)) - 1
    years = len(returns) / 252
    classified = frame.dropna(subset=["regime_level"])
    levels = classified["regime_level"].astype(int).to_numpy()
    months = classified["date"].dt.to_period("M")
    flagged = months[levels >= 2].nunique()
    return {
        "cagr": wealth[-1] ** (1 / years) - 1,
        "sharpe": returns.mean() / returns.std(ddof=1) * math.sqrt(252),
        "max_drawdown": drawdown.min(),
        **{f"share_{name}": float(np.mean(levels == i)) for i, name in enumerate(SHARE_TARGETS)},
        "transitions_per_year": np.count_nonzero(np.diff(levels)) / (len(levels) / 252),
        "share_months_flagged": flagged / months.nunique(),
    }


def _admissible(metrics: dict[str, float]) -> bool:
    return (
        all(
            abs(metrics[f"share_{name}"] - target) <= tolerance + 1e-12
            for name, (target, tolerance) in SHARE_TARGETS.items()
        )
        and metrics["transitions_per_year"] < 20
        and metrics["share_months_flagged"] <= 0.35
    )


def test_walk_forward_matches_an_independent_computation(tuning: AllocatorProject) -> None:
    sessions = _sessions(tuning)
    sessions["date"] = pd.to_datetime(sessions["date"])
    folds = tuning.frame(
        "select * from marts.tuning_walk_forward where tuning_id = ? order by fold", [TUNING_ID]
    )
    first_year = sessions["date"].dt.year.min()
    assert list(folds["test_year"]) == list(
        range(first_year + 3, sessions["date"].dt.year.max() + 1)
    )
    for fold in folds.itertuples():
        train = sessions[sessions["date"].dt.year < fold.test_year]
        scores = {}
        for config_id, frame in train.groupby("config_id"):
            metrics = _window_metrics(frame)
            if _admissible(metrics):
                scores[config_id] = metrics["cagr"] / abs(metrics["max_drawdown"])
        expected = min(scores, key=lambda c: (-scores[c], c)) if scores else 0
        assert fold.chosen_config_id == expected, fold.test_year
        assert fold.admissible_configurations == len(scores)
        test = sessions[
            (sessions["date"].dt.year == fold.test_year) & (sessions["config_id"] == expected)
        ]
        assert fold.oos_return == pytest.approx(np.prod(1 + test["net_return"]) - 1, abs=1e-12)


def _naive_pbo(returns: np.ndarray, n_splits: int) -> float:
    """CSCV as in Bailey et al. (2015), by brute force: Sharpe per half, rank, logit."""
    blocks = np.array_split(np.arange(returns.shape[0]), n_splits)
    logits = []
    for in_blocks in itertools.combinations(range(n_splits), n_splits // 2):
        rows_in = np.concatenate([blocks[b] for b in in_blocks])
        rows_out = np.concatenate([blocks[b] for b in range(n_splits) if b not in in_blocks])
        sharpe_in = returns[rows_in].mean(axis=0) / returns[rows_in].std(axis=0)
        sharpe_out = returns[rows_out].mean(axis=0) / returns[rows_out].std(axis=0)
        best = int(np.argmax(sharpe_in))
        rank = pd.Series(sharpe_out).rank(method="average").iloc[best]
        omega = rank / (returns.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


def test_deflated_sharpe_and_pbo_match_independent_formulas(tuning: AllocatorProject) -> None:
    sessions = _sessions(tuning)
    returns = sessions.pivot(index="date", columns="config_id", values="net_return").to_numpy()
    summary = tuning.frame(
        "select * from marts.tuning_summary where tuning_id = ?", [TUNING_ID]
    ).iloc[0]
    chosen = returns[:, int(summary["chosen_config_id"])]
    # Bailey and Lopez de Prado (2014), eq. for SR0 and the PSR, population moments
    sharpes = returns.mean(axis=0) / returns.std(axis=0)
    variance = np.var(sharpes, ddof=1)
    n = returns.shape[1]
    gamma = 0.5772156649015329
    z = NormalDist().inv_cdf
    sr0 = math.sqrt(variance) * ((1 - gamma) * z(1 - 1 / n) + gamma * z(1 - 1 / (n * math.e)))
    x = chosen - chosen.mean()
    sr = chosen.mean() / chosen.std()
    skew = np.mean(x**3) / np.mean(x**2) ** 1.5
    kurt = np.mean(x**4) / np.mean(x**2) ** 2
    t = len(chosen)
    dsr = NormalDist().cdf(
        (sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert summary["configurations"] == n
    assert summary["deflated_sharpe"] == pytest.approx(dsr, abs=1e-9)
    assert summary["pbo"] == pytest.approx(_naive_pbo(returns, 8), abs=1e-12)


def test_tuning_is_published_keyed_by_tuning_id(tuning: AllocatorProject) -> None:
    counts = tuning.query(
        "select (select count(*) from marts.tuning_summary where tuning_id = ?), "
        "(select count(*) from marts.tuning_walk_forward where tuning_id = ?)",
        [TUNING_ID, TUNING_ID],
    )[0]
    assert counts[0] == 1 and counts[1] > 10


def test_grid_path_is_required_to_exist(tuning: AllocatorProject, tmp_path: Path) -> None:
    result = tuning.invoke(
        ["build", "--select", "tag:tuning"],
        {
            "tuning_id": "bad",
            "tuning_baseline_run_id": BASELINE,
            "tuning_grid_path": str(tmp_path / "none.csv"),
        },
    )
    assert not result.success
    assert "is not an existing .csv or .json grid file" in result_message(result)
    assert (
        tuning.query("select count(*) from marts.tuning_summary where tuning_id = 'bad'")[0][0] == 0
    )


def test_allocator_tune_writes_the_chosen_governor_config(
    tuning: AllocatorProject, tmp_path: Path
) -> None:
    """The command's path: build, publish, then the governor config a run accepts."""
    settings = Settings(project_dir=PROJECT_DIR, db_path=tuning.db_path, reports_dir=tmp_path)
    grid = tuning.work_dir / "tuning_grid.csv"
    request = TuneRequest(
        baseline_run_id=BASELINE, tuning_id="cli", grid_path=grid, objective="sharpe"
    )
    lines: list[str] = []
    with dbt_environment(tuning.db_path):
        path = tune(settings, request, lines.append)
    document = read_governor_config(path)
    chosen = tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = 'cli' and is_chosen"
    ).iloc[0]
    best = tuning.frame(
        "select config_id from marts.tuning_configurations where tuning_id = 'cli' "
        "and is_admissible order by sharpe desc, config_id limit 1"
    )
    assert int(chosen["config_id"]) == (int(best.iloc[0, 0]) if len(best) else 0)
    assert document["cadence"] == chosen["cadence"]
    assert document["allocator_risk_ewma_alpha"] == chosen["alpha"]
    assert (tmp_path / "tuning" / "cli" / "tuning_report.html").is_file()
    assert any("deflated Sharpe ratio" in line for line in lines)
    # issue 22: per-configuration progress, timing_skill, and the command that applies it
    assert any(re.match(r"tune: configurations swept: (\d+)/\1, ", line) for line in lines)
    assert any(
        line.startswith("timing_skill (against the controls (b) and (c)): good ") for line in lines
    )
    assert lines[-1] == f"  {apply_command(BASELINE, path)}"


# --- controls and timing_skill per configuration -----------------------------------------

SCALED = "cmp_scaled"


@pytest.fixture(scope="module")
def scaled_of_baseline(tuning: AllocatorProject) -> AllocatorProject:
    """A two-pass scaled run of the tuning's baseline: its scalars, its cadence."""
    result = tuning.invoke(
        ["build", *NO_TESTS],
        {
            "run_id": SCALED,
            "allocator_v1": {
                "enabled": True,
                "mode": "precomputed",
                "precomputed_run_id": BASELINE,
                "cadence": "rebalance_lagged",
            },
        },
    )
    assert result.success, result_message(result)
    return tuning


def test_defaults_controls_equal_the_two_pass_controls(
    scaled_of_baseline: AllocatorProject,
) -> None:
    """Config 0 is the baseline's own governor: its (b) and (c) are the two-pass's."""
    mine = scaled_of_baseline.frame(
        "select * from marts.tuning_configurations where tuning_id = ? and config_id = 0",
        [TUNING_ID],
    ).iloc[0]
    controls = scaled_of_baseline.frame(
        "select * from marts.two_pass_controls where scaled_run_id = ?", [SCALED]
    ).set_index("book")
    for book in ("vol_matched", "vol_target"):
        expected = controls.loc[book]
        parameter = "vol_matched_exposure" if book == "vol_matched" else "vol_target_k"
        assert mine[parameter] == pytest.approx(expected["exposure_parameter"], rel=0, abs=1e-10)
        for metric in ("max_drawdown", "sharpe"):
            assert mine[f"{book}_{metric}"] == pytest.approx(expected[metric], rel=0, abs=1e-10)
    governor = controls.loc["governor"]
    assert mine["sharpe"] == pytest.approx(governor["sharpe"], rel=0, abs=1e-10)
    (status,) = scaled_of_baseline.query(
        "select status from marts.two_pass_flags where scaled_run_id = ? and flag = 'timing_skill'",
        [SCALED],
    )[0]
    assert mine["timing_skill"] == status


def _beaten(row: pd.Series, control: str) -> bool:
    return bool(
        row["max_drawdown"] > row[f"{control}_max_drawdown"]
        and row["sharpe"] > row[f"{control}_sharpe"]
    )


def test_timing_skill_and_its_constraint(tuning: AllocatorProject) -> None:
    grid = tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = ? order by config_id",
        [TUNING_ID],
    )
    for _, row in grid.iterrows():
        if pd.isna(row["vol_target_sharpe"]) or pd.isna(row["vol_matched_sharpe"]):
            expected = "warning"
        else:
            beaten = _beaten(row, "vol_matched") + _beaten(row, "vol_target")
            expected = {2: "good", 1: "warning", 0: "failure"}[beaten]
        assert row["timing_skill"] == expected
        # a constant exposure earns the whole book's Sharpe whatever its size
        assert row["vol_matched_exposure"] > 0
    assert not (grid["is_admissible"] & (grid["timing_skill"] == "failure")).any()


@pytest.mark.parametrize("min_sharpe", [0.5, 0.78])
def test_maxdd_objective_picks_the_shallowest_drawdown_above_the_minimum_sharpe(
    tuning: AllocatorProject, min_sharpe: float
) -> None:
    tuning_id = f"dd{int(min_sharpe * 100)}"
    result = tuning.invoke(
        ["build", "--select", "tag:tuning", *NO_TESTS],
        {
            "tuning_id": tuning_id,
            "tuning_baseline_run_id": BASELINE,
            "tuning_grid_path": str(tuning.work_dir / "tuning_grid.csv"),
            "tuning_objective": "maxdd",
            "tuning_min_sharpe": min_sharpe,
            "tuning_pbo_splits": 8,
        },
    )
    assert result.success, result_message(result)
    grid = tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = ? order by config_id",
        [tuning_id],
    ).set_index("config_id")
    sessions = _sessions(tuning)
    sessions["date"] = pd.to_datetime(sessions["date"])
    admissible = {}
    for config_id, frame in sessions.groupby("config_id"):
        metrics = _window_metrics(frame)
        admissible[config_id] = (
            _admissible(metrics)
            and metrics["sharpe"] >= min_sharpe
            and grid.loc[config_id, "timing_skill"] != "failure"
        )
        assert grid.loc[config_id, "objective_score"] == pytest.approx(
            metrics["max_drawdown"], rel=0, abs=1e-10
        )
    assert grid["is_admissible"].to_dict() == admissible
    candidates = grid[list(admissible.values())]
    expected = (
        candidates.sort_values(["max_drawdown"], ascending=False, kind="stable").index[0]
        if len(candidates)
        else 0
    )
    assert grid.index[grid["is_chosen"]].tolist() == [expected]


SLEEVE_TUNING_ID = "tt_sleeves"


@pytest.fixture(scope="module")
def sleeve_tuning(allocator_project: AllocatorProject) -> AllocatorProject:
    """A sweep of the grid axis sleeve_scalars on the baseline's own governor."""
    allocator_project.run(BASELINE)
    grid = allocator_project.work_dir / "tuning_sleeve_grid.json"
    grid.write_text(json.dumps({"product": {"sleeve_scalars": ["stage6_v1", "book"]}}))
    result = allocator_project.invoke(
        ["build", "--select", "tag:tuning"],
        {
            "tuning_id": SLEEVE_TUNING_ID,
            "tuning_baseline_run_id": BASELINE,
            "tuning_grid_path": str(grid),
            "tuning_pbo_splits": 2,
        },
    )
    assert result.success, result_message(result)
    return allocator_project


def test_a_sleeve_calibration_configuration_equals_a_full_run_with_it(
    sleeve_tuning: AllocatorProject,
) -> None:
    """Config 1 (stage6_v1 on the baseline's governor) against a compute run
    built with var sleeve_scalars: stage6_v1 (int_exposure_sleeve_scaled_book)."""
    grid = sleeve_tuning.frame(
        "select config_id, sleeve_scalars from marts.tuning_configurations "
        "where tuning_id = ? order by config_id",
        [SLEEVE_TUNING_ID],
    )
    assert list(grid["sleeve_scalars"]) == ["off", "stage6_v1", "book"]
    result = sleeve_tuning.invoke(
        ["build", *NO_TESTS],
        {
            "run_id": "tuned_s6",
            "allocator_v1": {"enabled": True, "mode": "compute", "cadence": "rebalance_lagged"},
            "sleeve_scalars": "stage6_v1",
        },
    )
    assert result.success, result_message(result)
    run = sleeve_tuning.frame(
        "select date, risk_scalar_used, turnover, net_return "
        "from artifacts.portfolio_returns_scaled where run_id = 'tuned_s6' order by date"
    )
    sweep = sleeve_tuning.frame(
        "select date, risk_scalar_used, turnover, net_return from build.tuning_sessions "
        "where config_id = 1 order by date"
    )
    assert list(sweep["date"]) == list(run["date"]) and len(run) > 4000
    for column in ("risk_scalar_used", "turnover", "net_return"):
        assert np.max(np.abs(sweep[column] - run[column])) <= 1e-12, column
    # it is not the book-level book: the sleeves' own maps moved it
    book_level = sleeve_tuning.frame(
        "select net_return from artifacts.portfolio_returns_scaled where run_id = ? order by date",
        [BASELINE],
    )
    assert np.max(np.abs(sweep["net_return"] - book_level["net_return"])) > 1e-4
    # every sleeve on the book's map: the book-level configuration (config 0)
    gap = sleeve_tuning.query(
        "select max(abs(b.net_return - o.net_return)), count(*) from build.tuning_sessions as b "
        "inner join build.tuning_sessions as o on b.date = o.date and o.config_id = 0 "
        "where b.config_id = 2"
    )[0]
    assert gap[1] == len(run) and gap[0] <= 1e-12


def test_a_sleeve_configuration_controls_equal_its_two_pass_controls(
    sleeve_tuning: AllocatorProject,
) -> None:
    """Config 1 (stage6_v1 on the baseline's governor): its (b) and (c) are
    those of a two-pass scaled run of the baseline with sleeve_scalars
    stage6_v1, which match the sleeve-scaled book's own vol."""
    result = sleeve_tuning.invoke(
        ["build", *NO_TESTS],
        {
            "run_id": "scaled_s6",
            "allocator_v1": {
                "enabled": True,
                "mode": "precomputed",
                "precomputed_run_id": BASELINE,
                "cadence": "rebalance_lagged",
            },
            "sleeve_scalars": "stage6_v1",
        },
    )
    assert result.success, result_message(result)
    mine = sleeve_tuning.frame(
        "select * from marts.tuning_configurations where tuning_id = ? and config_id = 1",
        [SLEEVE_TUNING_ID],
    ).iloc[0]
    controls = sleeve_tuning.frame(
        "select * from marts.two_pass_controls where scaled_run_id = 'scaled_s6'"
    ).set_index("book")
    for book in ("vol_matched", "vol_target"):
        expected = controls.loc[book]
        parameter = "vol_matched_exposure" if book == "vol_matched" else "vol_target_k"
        assert mine[parameter] == pytest.approx(expected["exposure_parameter"], rel=0, abs=1e-10)
        for metric in ("max_drawdown", "sharpe"):
            assert mine[f"{book}_{metric}"] == pytest.approx(expected[metric], rel=0, abs=1e-10)
    assert mine["sharpe"] == pytest.approx(controls.loc["governor", "sharpe"], rel=0, abs=1e-10)
