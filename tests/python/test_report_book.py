"""The audit report's additions (issue 22): the one-line verdict and the
contents at the top, trailing returns, hit rates, the return distribution,
trading figures and sleeve attribution, on hand-checkable series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator import report, report_book


def test_trailing_returns_compound_the_last_sessions() -> None:
    dates = pd.bdate_range("2021-01-01", periods=300)
    returns = pd.Series(0.001, index=range(300))
    trailing = report_book.trailing_returns(pd.Series(dates), returns)
    assert trailing["1M"] == pytest.approx(1.001**21 - 1)
    assert trailing["1Y"] == pytest.approx(1.001**252 - 1)
    assert trailing["3Y (ann.)"] is None  # longer than the run
    ytd = (pd.Series(dates).dt.year == dates[-1].year).sum()
    assert trailing["YTD"] == pytest.approx(1.001**ytd - 1)
    assert trailing["Since start (ann.)"] == pytest.approx(1.001**252 - 1)


def test_hit_rates_count_positive_days_months_and_years() -> None:
    dates = pd.Series(pd.to_datetime(["2021-01-04", "2021-01-05", "2021-02-01", "2022-01-03"]))
    returns = pd.Series([0.02, -0.01, -0.03, 0.01])
    hits = report_book.hit_rates(dates, returns)
    assert hits["positive days"] == 0.5
    assert hits["positive months"] == pytest.approx(2 / 3)  # Jan 21 +, Feb 21 -, Jan 22 +
    assert hits["positive years"] == 0.5
    assert hits["average gain / average loss"] == pytest.approx(0.015 / 0.02)


def test_distribution_and_trading_figures() -> None:
    values = pd.Series([-0.06, -0.004, 0.0, 0.004, 0.07])
    figures = report_book.distribution(values)
    assert (figures["worst"], figures["best"]) == (-0.06, 0.07)
    counts = {label: n for label, n, _ in figures["histogram"]}
    assert counts["below -5.0%"] == 1 and counts["5.0% and above"] == 1
    assert counts["0.0% to 0.5%"] == 2 and sum(counts.values()) == 5
    daily = pd.DataFrame({"turnover": [0.5] * 252, "transaction_cost": [0.0001] * 252})
    book = report_book.Book("Baseline", daily, pd.Series([1.0, 1.5]))
    assert report_book.trading(book) == pytest.approx(
        {
            "turnover a year": 126.0,
            "costs a year": 0.0252,
            "mean gross exposure": 1.25,
            "max gross exposure": 1.5,
        }
    )


def test_sleeve_attribution_annualises_each_contribution() -> None:
    sleeves = pd.DataFrame(
        {"sleeve": ["trend", "core"] * 3, "sleeve_return": [0.001, 0.002] * 3, "date": 0}
    )
    rows = report_book.sleeve_attribution(sleeves, pd.Series([0.003] * 3))
    assert [r["sleeve"] for r in rows] == ["core", "trend"]
    assert rows[0]["contribution"] == pytest.approx(0.504)
    assert rows[0]["share"] == pytest.approx(2 / 3)


def test_the_report_opens_with_a_verdict_and_its_contents() -> None:
    dates = pd.bdate_range("2021-01-04", periods=30)
    daily = pd.DataFrame(
        {
            "date": dates,
            "portfolio_return": np.linspace(-0.01, 0.01, 30),
            "equity": np.linspace(1.0, 1.1, 30),
            "drawdown": np.zeros(30),
        }
    )
    comparison = {
        "metrics": [
            {"metric": "Sharpe", "baseline": 0.78, "scaled": 0.74, "delta": -0.04, "unit": "ratio"},
            {"metric": "MaxDD", "baseline": -0.19, "scaled": -0.11, "delta": 0.08, "unit": "pct"},
        ],
        "flags": [
            {"flag": "maxdd_vs_baseline", "status": "good", "detail": ""},
            {"flag": "timing_skill", "status": "warning", "detail": ""},
        ],
    }
    page = report.render_two_pass_html(comparison, daily, daily)
    head = page[: page.index('id="flags"')]
    assert (
        "Sharpe 0.78 → 0.74; MaxDD -19.00% → -11.00%; timing_skill warning; "
        "1 warning(s), 1 check(s) passed" in head
    )
    assert '<nav id="contents">' in head and 'href="#flags">Audit checks</a>' in head
    assert 'href="#metrics">' in head and 'href="#trading"' not in head  # no such section here
