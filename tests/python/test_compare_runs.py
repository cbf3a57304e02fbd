"""allocator.compare_runs: the marts' SQL metrics of a folder against empyrical, the
drawdown periods by hand and by their defining properties, and the command
on two exported run folders."""

from __future__ import annotations

import json
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allocator import cli, compare_runs, tearsheet
from allocator.errors import AllocatorError

TOLERANCE = 1e-10


def _returns(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=n)
    returns = 0.0004 + 0.009 * rng.standard_t(4, n) / 2.0
    return pd.DataFrame({"date": dates, "ret": returns})


def test_folder_metrics_equal_empyrical() -> None:
    raw = _returns(7)
    daily = compare_runs.daily_book(raw["date"], raw["ret"])
    got = compare_runs.measure(daily)
    r = raw.set_index("date")["ret"]
    expected = {
        "cagr": empyrical.annual_return(r),
        "ann_vol": empyrical.annual_volatility(r),
        "sharpe": empyrical.sharpe_ratio(r),
        "max_drawdown": empyrical.max_drawdown(r),
        "sortino": empyrical.sortino_ratio(r),
        "downside_vol": empyrical.downside_risk(r),
        "calmar": empyrical.calmar_ratio(r),
        "skew": stats.skew(r),
        "kurtosis": stats.kurtosis(r),
        "value_at_risk_95": empyrical.value_at_risk(r),
        "conditional_value_at_risk_95": empyrical.conditional_value_at_risk(r),
        "worst_month": float(empyrical.aggregate_returns(r, "monthly").min()),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(float(value), abs=TOLERANCE, rel=TOLERANCE), name


def _periods(returns: list[float]) -> list[dict]:
    dates = pd.bdate_range("2021-01-04", periods=len(returns))
    daily = compare_runs.daily_book(pd.Series(dates), pd.Series(returns))
    return [p.as_dict() for p in tearsheet.drawdown_periods(daily["date"], daily["drawdown"])]


def test_drawdown_periods_by_hand() -> None:
    # wealth 1.1, 0.99, 0.891, 1.1583 (recovered), 1.2162, 0.9730, 0.9827 (still under)
    periods = _periods([0.1, -0.1, -0.1, 0.3, 0.05, -0.2, 0.01])
    assert periods == [
        {
            "peak_date": "2021-01-08",
            "trough_date": "2021-01-11",
            "recovery_date": None,
            "sessions": 2,
            "depth": pytest.approx(-0.2),
        },
        {
            "peak_date": "2021-01-04",
            "trough_date": "2021-01-06",
            "recovery_date": "2021-01-07",
            "sessions": 3,
            "depth": pytest.approx(0.891 / 1.1 - 1),
        },
    ]


def test_a_loss_on_the_first_day_starts_at_the_first_session() -> None:
    assert _periods([-0.05, 0.1]) == [
        {
            "peak_date": "2021-01-04",
            "trough_date": "2021-01-04",
            "recovery_date": "2021-01-05",
            "sessions": 1,
            "depth": pytest.approx(-0.05),
        }
    ]


def test_drawdown_periods_keep_their_defining_properties() -> None:
    raw = _returns(11, 3000)
    daily = compare_runs.daily_book(raw["date"], raw["ret"])
    periods = tearsheet.drawdown_periods(daily["date"], daily["drawdown"], top=5)
    indexed = daily.set_index("date")
    assert len(periods) == 5
    assert periods[0].depth == pytest.approx(daily["drawdown"].min(), abs=1e-15)
    assert [p.depth for p in periods] == sorted(p.depth for p in periods)
    for p in periods:
        end = p.recovery if p.recovery is not None else daily["date"].iloc[-1]
        span = indexed.loc[p.peak : end, "drawdown"]
        assert span.iloc[0] == 0.0 or p.peak == daily["date"].iloc[0]
        inside = span.iloc[1:-1] if p.recovery is not None else span.iloc[1:]
        assert (inside < 0).all()
        if p.recovery is not None:
            assert span.iloc[-1] == 0.0
        assert span.min() == p.depth == indexed.loc[p.trough, "drawdown"]
        assert p.sessions == len(span) - 1
    spans = sorted((p.peak, p.recovery or p.trough) for p in periods)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_regime_figures_count_days_and_transitions() -> None:
    figures = tearsheet.regime_figures(
        pd.Series([None, "NORMAL", "NORMAL", "STRESS", "NORMAL", "CRISIS", "CRISIS"])
    )
    assert figures["days"] == 6
    assert figures["transitions"] == 3
    assert figures["transitions_per_year"] == pytest.approx(3 / (6 / 252))
    assert [(r["regime"], r["days"]) for r in figures["regimes"]] == [
        ("NORMAL", 3),
        ("STRESS", 1),
        ("CRISIS", 2),
    ]


def _folder(root: Path, run_id: str, seed: int, regimes: bool) -> Path:
    folder = root / run_id
    folder.mkdir()
    raw = _returns(seed, 800)
    raw.assign(date=raw["date"].dt.strftime("%Y-%m-%d")).to_csv(
        folder / "portfolio_returns.csv", index=False
    )
    if regimes:
        labels = np.where(np.arange(len(raw)) % 100 < 80, "NORMAL", "STRESS").astype(object)
        labels[:20] = None
        pd.DataFrame({"date": raw["date"].dt.strftime("%Y-%m-%d"), "regime": labels}).to_csv(
            folder / "allocator_regime_v1.csv", index=False
        )
    (folder / "export_manifest.json").write_text(
        json.dumps({"run_id": run_id, "config_hash": f"hash_{run_id}", "files": []})
    )
    return folder


def test_compare_two_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _folder(tmp_path, "run_a", 1, regimes=True)
    b = _folder(tmp_path, "run_b", 2, regimes=True)
    out = tmp_path / "out"
    db = tmp_path / "no_database.duckdb"  # folders need no database
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(db))
    code = cli.main(["compare", str(a), str(b), "--out-dir", str(out)])
    assert code == 0 and not db.exists()
    printed = capsys.readouterr().out
    assert "# Run comparison: run_b vs run_a" in printed
    doc = json.loads((out / "run_comparison.json").read_text())
    metrics = {m["metric"]: m for m in doc["metrics"]}
    raw = _returns(1, 800)
    side_a = compare_runs.measure(compare_runs.daily_book(raw["date"], raw["ret"]))
    assert metrics["sortino"]["a"] == pytest.approx(side_a["sortino"], abs=TOLERANCE)
    assert metrics["cagr"]["delta"] == pytest.approx(
        metrics["cagr"]["b"] - metrics["cagr"]["a"], abs=1e-15
    )
    assert doc["a"]["config_hash"] == "hash_run_a" and doc["b"]["source"] == "folder"
    assert len(doc["drawdown_periods"]["a"]) == 5
    assert doc["regimes"]["a"]["days"] == 780
    html = (out / "run_comparison.html").read_text()
    assert html.count('<svg class="plot"') == 2
    assert html.count('class="hover-data"') == 2
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert (out / "run_comparison.md").read_text().startswith("# Run comparison")


def test_regimes_are_compared_only_when_both_runs_have_them(tmp_path: Path) -> None:
    a = compare_runs.load_folder(_folder(tmp_path, "a", 3, regimes=True), "a")
    b = compare_runs.load_folder(_folder(tmp_path, "b", 4, regimes=False), "b")
    doc, paths = compare_runs.write_comparison(a, b, tmp_path / "out")
    assert doc["regimes"] is None
    assert "Regimes: not compared" in paths[1].read_text()


def test_an_unknown_reference_names_the_stored_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    db = tmp_path / "allocator.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.runs as select 'demo_base' as run_id")
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(db))
    folder = _folder(tmp_path, "run_a", 1, regimes=False)
    code = cli.main(["compare", str(folder), "nope"])
    assert code != 0
    error = capsys.readouterr().err
    assert "'nope' is neither a stored run nor an exported run folder" in error
    assert "stored runs: demo_base" in error


def test_a_folder_with_published_metrics_is_read_not_measured(tmp_path: Path) -> None:
    """An export carries its marts' rows: compare shows them as published."""
    folder = _folder(tmp_path, "run_a", 3, regimes=False)
    measured = compare_runs.load_folder(folder, "a").metrics
    published = {**measured, "sharpe": 9.25, "sortino": None}
    headline = ["first_date", "last_date", "return_days", "cagr", "sharpe", "max_drawdown"]
    pd.DataFrame([{k: published[k] for k in headline}]).to_csv(
        folder / "run_metrics.csv", index=False
    )
    risk = ["return_days", "sortino", "calmar"]
    pd.DataFrame([{k: published[k] for k in risk}]).to_csv(
        folder / "run_risk_metrics.csv", index=False
    )
    side = compare_runs.load_folder(folder, "a")
    assert side.metrics["sharpe"] == 9.25 and side.metrics["sortino"] is None
    assert side.metrics["cagr"] == measured["cagr"]  # read back to the bit
    assert side.metrics["first_date"] == measured["first_date"]


def test_a_folder_return_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "run_a", 3, regimes=False)
    lines = (folder / "portfolio_returns.csv").read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",oops"
    (folder / "portfolio_returns.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(AllocatorError, match=r"portfolio_returns.csv row 6: ret must be a number"):
        compare_runs.load_folder(folder, "a")
