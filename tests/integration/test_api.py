"""The Python API end to end (issue 22): the example notebook
(docs/examples/own_data.py, a percent-format notebook) runs whole on a wide
DataFrame of closes, with no start, end or profile, and its results are
pandas DataFrames. One two-pass, built through the API as a user would."""

from __future__ import annotations

import runpy
from pathlib import Path

import pandas as pd
import pytest

import allocator

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOTEBOOK = PROJECT_DIR / "docs" / "examples" / "own_data.py"


def test_the_example_notebook_audits_a_wide_dataframe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALLOCATOR_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(tmp_path / "api.duckdb"))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(tmp_path / "reports"))
    namespace = runpy.run_path(str(NOTEBOOK), run_name="__main__")
    out = capsys.readouterr().out

    closes = namespace["closes"]
    assert isinstance(closes, pd.DataFrame) and list(closes.columns) == [
        "AAPL",
        "JNJ",
        "JPM",
        "MSFT",
        "XOM",
    ]
    # the layout and the window were found, and said
    assert "prices: DataFrame is a wide pandas table, 1,006 dates 2019-01-02 to 2022-12-28" in out
    assert "start: 2020-03-30, the earliest valid start for core_v1 (312 sessions" in out
    assert "end: 2022-12-28, the data's last date" in out

    audit = namespace["audit"]
    assert isinstance(audit, allocator.TwoPass)
    assert audit.baseline.info["strategy_profile"] == "core_v1"
    assert audit.baseline.run_id == "prices_90347d_20200330_20221228_base"
    for frame in (audit.metrics, audit.controls, audit.regimes, audit.flags, audit.returns):
        assert isinstance(frame, pd.DataFrame) and len(frame)
    assert {"metric", "baseline", "scaled", "delta"} <= set(audit.metrics.columns)
    assert {"book_label", "cagr", "sharpe", "max_drawdown"} <= set(audit.controls.columns)
    assert set(audit.regimes["regime"].dropna()) <= {"NORMAL", "ELEVATED", "STRESS", "CRISIS"}
    first = audit.returns["date"].min()
    assert pd.Timestamp("2020-03-30") <= first < pd.Timestamp("2020-04-06")
    # the report's one-line verdict, as the notebook prints it
    assert audit.verdict.split(":")[0] in {"good", "warning", "failure"}
    assert "timing_skill" in audit.verdict and audit.verdict in out
    assert "two-pass audit" in audit._repr_html_()
    assert audit.report().is_file()

    # what is stored reads back the same, and runs names the input file
    loaded = allocator.load(audit.scaled.run_id)
    assert isinstance(loaded, allocator.TwoPass)
    pd.testing.assert_frame_equal(loaded.metrics, audit.metrics)
    listed = allocator.runs(log=None).set_index("run_id")
    assert listed.loc[audit.baseline.run_id, "inputs"].startswith("prices__90347d190bf0.parquet#")
