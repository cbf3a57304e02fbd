"""The tear sheet and `allocator compare` on real runs of the demo data.

The pandas side of the tear sheet (monthly returns, drawdown periods,
regime figures) and the folder side of `allocator compare` (metrics from an
export's portfolio_returns.csv) are checked against the SQL marts that
define the same figures independently: run_metrics, run_risk_metrics and the
two-pass marts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator import compare_runs, tearsheet
from allocator.comparison import write_comparison_files
from allocator.exports import export_run
from tests.integration.conftest import AllocatorProject

TOLERANCE = 1e-10


@pytest.fixture(scope="module")
def pair(allocator_project: AllocatorProject) -> tuple[str, str]:
    return allocator_project.run("base"), allocator_project.run("pre")


def test_tear_sheet_figures_agree_with_the_marts(
    allocator_project: AllocatorProject, pair: tuple[str, str]
) -> None:
    base, scaled = pair
    with allocator_project.connect() as con:
        for run_id in pair:
            side = compare_runs.load_stored(con, run_id, run_id)
            metrics = tearsheet.load_run_metrics(con, run_id)
            months = tearsheet.monthly_table(side.daily["date"], side.daily["portfolio_return"])
            assert months.min().min() == pytest.approx(metrics["worst_month"], abs=1e-12)
            periods = tearsheet.drawdown_periods(side.daily["date"], side.daily["drawdown"])
            assert periods[0].depth == metrics["max_drawdown"]
        usage = con.execute(
            "select baseline_worst_dd_peak_date, baseline_worst_dd_trough_date, "
            "transitions_per_year from two_pass_allocator_usage where scaled_run_id = ?",
            [scaled],
        ).fetchone()
        distribution = dict(
            con.execute(
                "select regime, days from two_pass_regime_distribution where scaled_run_id = ?",
                [scaled],
            ).fetchall()
        )
        worst = tearsheet.drawdown_periods(
            compare_runs.load_stored(con, base, base).daily["date"],
            compare_runs.load_stored(con, base, base).daily["drawdown"],
        )[0]
        figures = tearsheet.regime_figures(compare_runs.load_stored(con, scaled, scaled).regimes)
    assert (worst.peak.date(), worst.trough.date()) == (usage[0], usage[1])
    assert figures["transitions_per_year"] == pytest.approx(usage[2], abs=1e-12)
    assert {r["regime"]: r["days"] for r in figures["regimes"]} == {
        k: v for k, v in distribution.items() if v
    }


def test_audit_report_carries_the_tear_sheet(
    allocator_project: AllocatorProject, pair: tuple[str, str], tmp_path: Path
) -> None:
    _, scaled = pair
    with allocator_project.connect() as con:
        _, paths = write_comparison_files(con, scaled, tmp_path)
        hashes = [
            r[0]
            for r in con.execute(
                "select config_hash from runs where run_id in (?, ?)", list(pair)
            ).fetchall()
        ]
        sortino = con.execute(
            "select sortino from run_risk_metrics where run_id = ?", [scaled]
        ).fetchone()[0]
    html = paths[2].read_text()
    assert 'data-plots-expected="7"' in html
    assert all(h in html for h in hashes)
    assert "Benchmark (SP500)" in html and "Beta to Benchmark (SP500)" in html
    assert f"{sortino:.2f}" in html
    assert html.count('class="hover-data"') == 7


def test_a_run_and_its_export_folder_compare_the_same(
    allocator_project: AllocatorProject, pair: tuple[str, str], tmp_path: Path
) -> None:
    with allocator_project.connect() as con:
        for run_id in pair:
            export_run(con, run_id, tmp_path / run_id)
        stored = [compare_runs.load_stored(con, run_id, run_id) for run_id in pair]
    folders = [compare_runs.load_folder(tmp_path / run_id, run_id) for run_id in pair]
    from_db = compare_runs.compare(*stored)
    from_folders = compare_runs.compare(*folders)
    for db_metric, folder_metric in zip(from_db["metrics"], from_folders["metrics"], strict=True):
        for key in ("a", "b", "delta"):
            assert folder_metric[key] == pytest.approx(
                db_metric[key], abs=TOLERANCE, rel=TOLERANCE
            ), (db_metric["metric"], key)
    for side in ("a", "b"):
        db_periods = from_db["drawdown_periods"][side]
        folder_periods = from_folders["drawdown_periods"][side]
        assert [_dates(p) for p in folder_periods] == [_dates(p) for p in db_periods]
        assert [p["depth"] for p in folder_periods] == pytest.approx(
            [p["depth"] for p in db_periods], abs=1e-12
        )
    assert from_folders["regimes"] == from_db["regimes"]
    assert from_folders["a"]["config_hash"] == from_db["a"]["config_hash"]


def _dates(period: dict) -> tuple:
    return tuple(v for k, v in period.items() if k != "depth")
