"""Headless-Chromium check that the tuning report really renders: both plots
(the frontier and the walk-forward folds) draw their data, the defaults and
the chosen configuration are marked, and the page is not blank. Skipped
when Chromium is absent, like tests/browser/test_report_renders.py."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.browser.test_report_renders import CHROMIUM, _chromium, _DomAttributes

from allocator.tuning_report import write_tuning_html

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found")


def _tuning(n: int = 300) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    configurations = pd.DataFrame(
        {
            "config_id": np.arange(n),
            "is_default": np.arange(n) == 0,
            "is_chosen": np.arange(n) == 42,
            "elevated_multiplier": 1.0,
            "stress_multiplier": 1.0,
            "crisis_multiplier": 1.0,
            "min_days": 5,
            "target_normal": 1.0,
            "target_elevated": 0.85,
            "target_stress": 0.55,
            "target_crisis": 0.3,
            "alpha": 0.25,
            "floor": 0.25,
            "cap": 1.0,
            "cadence": "daily",
            "cagr": rng.normal(0.07, 0.005, n),
            "sharpe": rng.normal(0.75, 0.03, n),
            "max_drawdown": -rng.uniform(0.1, 0.2, n),
            "transitions_per_year": rng.uniform(2, 9, n),
            "share_normal": 0.7,
            "share_elevated": 0.2,
            "share_stress": 0.08,
            "share_crisis": 0.02,
            "share_months_flagged": 0.15,
            "is_admissible": rng.uniform(size=n) < 0.3,
        }
    )
    configurations["calmar"] = configurations["cagr"] / -configurations["max_drawdown"]
    configurations["objective_rank"] = configurations["calmar"].rank(
        ascending=False, method="first"
    )
    years = np.arange(2008, 2023)
    folds = pd.DataFrame(
        {
            "fold": np.arange(1, len(years) + 1),
            "test_year": years,
            "train_start": pd.Timestamp("2005-01-03"),
            "train_end": pd.to_datetime([f"{y - 1}-12-31" for y in years]),
            "admissible_configurations": 80,
            "chosen_config_id": 42,
            "is_default_fallback": False,
            "in_sample_cagr": rng.normal(0.07, 0.01, len(years)),
            "in_sample_sharpe": 0.8,
            "oos_return": rng.normal(0.06, 0.1, len(years)),
            "oos_sharpe": 0.5,
            "default_oos_return": rng.normal(0.06, 0.1, len(years)),
            "in_sample_best_oos_return": 0.05,
            "baseline_oos_return": 0.05,
        }
    )
    summary = {
        "tuning_id": "browser<t>",
        "baseline_run_id": "base",
        "configurations": n,
        "admissible_configurations": int(configurations["is_admissible"].sum()),
        "objective": "calmar",
        "chosen_config_id": 42,
        "folds": len(years),
        "oos_start": "2008-01-02",
        "oos_end": "2022-12-28",
        "deflated_sharpe": 0.91,
        "pbo": 0.4,
        "pbo_splits": 16,
    }
    for book in ("walk_forward", "in_sample_best", "defaults", "baseline_unscaled"):
        summary |= {
            f"{book}_oos_cagr": 0.07,
            f"{book}_oos_sharpe": 0.7,
            f"{book}_oos_max_drawdown": -0.15,
            f"{book}_oos_calmar": 0.47,
        }
    return summary, configurations, folds


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tuning_html(tmp_path_factory.mktemp("tuning") / "tuning_report.html", *_tuning())


def test_tuning_plots_render_in_chromium(report: Path, tmp_path: Path) -> None:
    result = _chromium("--dump-dom", report.as_uri(), user_data_dir=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _DomAttributes()
    dom.feed(result.stdout)
    assert {p.get("data-plot") for p in dom.plots} == {"frontier", "walk_forward"}
    assert dom.body.get("data-plots-rendered") == "2", dom.body
    assert all(p.get("data-plot-ok") == "true" for p in dom.plots)
    assert result.stdout.count('data-marker="defaults"') == 1
    assert result.stdout.count('data-marker="chosen"') == 1
    assert result.stdout.count("<circle") >= 300
    # escaped, not injected
    assert "browser&lt;t&gt;" in result.stdout and "http://" not in result.stdout.replace(
        "http://www.w3.org", ""
    )


def test_tuning_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "tuning.png"
    result = _chromium(
        f"--screenshot={png}",
        "--window-size=1200,2400",
        report.as_uri(),
        user_data_dir=tmp_path / "profile",
    )
    assert result.returncode == 0 and png.is_file(), result.stderr[-2000:]
    data = png.read_bytes()
    assert struct.unpack(">II", data[16:24]) == (1200, 2400)
    assert len(data) > 50_000
