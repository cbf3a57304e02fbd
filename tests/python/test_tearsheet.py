"""allocator.tearsheet: period returns, rolling figures and the rendered
sections of the audit report, on synthetic books."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from allocator import charts, report, tearsheet
from allocator.compare_runs import daily_book


def _book(seed: int, n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.Series(pd.bdate_range("2018-01-02", periods=n))
    return daily_book(dates, pd.Series(0.0003 + 0.01 * rng.standard_normal(n)))


def test_monthly_table_compounds_calendar_months() -> None:
    daily = _book(1)
    table = tearsheet.monthly_table(daily["date"], daily["portfolio_return"])
    march = daily[(daily["date"] >= "2019-03-01") & (daily["date"] < "2019-04-01")]
    expected = math.prod(1 + r for r in march["portfolio_return"]) - 1
    assert table.loc[2019, 3] == pytest.approx(expected, abs=1e-14)
    assert list(table.columns) == list(range(1, 13))
    years = tearsheet.period_returns(daily["date"], daily["portfolio_return"], "Y")
    row = table.loc[2019]
    assert years[pd.Timestamp("2019-01-01")] == pytest.approx(np.prod(1 + row) - 1, abs=1e-12)


def test_rolling_figures_are_the_trailing_window_s() -> None:
    daily = _book(2)
    returns = daily["portfolio_return"]
    vol, sharpe = tearsheet.rolling_vol_sharpe(returns, 126)
    assert vol.iloc[:125].isna().all()
    window = returns.iloc[300 - 125 : 301].to_numpy()
    assert vol.iloc[300] == pytest.approx(np.std(window, ddof=1) * math.sqrt(252), abs=1e-14)
    assert sharpe.iloc[300] == pytest.approx(
        window.mean() / np.std(window, ddof=1) * math.sqrt(252), abs=1e-12
    )


def _sections() -> str:
    baseline = _book(3)
    scaled = _book(4)
    scaled["regime"] = np.where(np.arange(len(scaled)) % 200 < 150, "NORMAL", "STRESS")
    scaled["risk_scalar"] = np.where(scaled["regime"] == "NORMAL", 1.0, 0.55)
    benchmark = _book(5)
    metrics = {
        "Baseline": {"cagr": 0.05, "sortino": 1.2, "beta": 0.3, "correlation": 0.5},
        "Scaled": {"cagr": 0.04, "sortino": 1.3, "beta": 0.25, "correlation": 0.45},
    }
    return tearsheet.render_sections(
        baseline,
        scaled,
        metrics,
        {"cagr": 0.07, "sortino": 0.6},
        "Benchmark (SPX)",
        benchmark,
        [
            {
                "run_id": "s",
                "config_hash": "abc123",
                "input_fingerprint": "fp9",
                "dbt_invocation_id": "inv",
                "created_at": "x",
            }
        ],
    )


def test_sections_hold_every_part_of_the_tear_sheet() -> None:
    html = _sections()
    for part in (
        'id="risk-metrics"',
        'data-heatmap="scaled"',
        'data-heatmap="scaled_minus_baseline"',
        'id="yearly-returns"',
        'data-plot="rolling_vol"',
        'data-plot="rolling_sharpe"',
        'data-plot="underwater"',
        '<tr data-book="Benchmark (SPX)">',
        "abc123",
        "fp9",
        "duckdb ",
    ):
        assert part in html, part
    assert html.count('<svg class="plot"') == 3
    # hover data for the three tear-sheet charts and the four audit charts
    payloads = [
        json.loads(m)
        for m in re.findall(r'class="hover-data" data-for="[^"]+">(.*?)</script>', html)
    ]
    assert {p["plot"] for p in payloads} == {
        "rolling_vol",
        "rolling_sharpe",
        "underwater",
        "equity",
        "drawdown",
        "risk_scalar",
        "regime_drawdown",
    }
    for payload in payloads:
        assert len(payload["x"]) == len(payload["dates"]) <= charts.MAX_HOVER_POINTS
        assert all(len(s["values"]) == len(payload["x"]) for s in payload["series"])
        left, right = charts.MARGIN_LEFT, charts.PLOT_WIDTH - charts.MARGIN_RIGHT
        assert left - 1e-6 <= min(payload["x"]) and max(payload["x"]) <= right + 1e-6


def test_hover_json_cannot_close_its_script_element() -> None:
    tag = charts.hover_script_tag({"plot": "p", "x": [], "dates": ["</script><b>"]})
    assert "</script><b>" not in str(tag)
    assert json.loads(re.search(r">(.*)</script>$", str(tag)).group(1))["dates"] == ["</script><b>"]


def test_heat_colours_say_gain_or_loss() -> None:
    assert tearsheet._heat_colour(0.0, 0.06) == "#ffffff"
    green, red = tearsheet._heat_colour(0.06, 0.06), tearsheet._heat_colour(-0.2, 0.06)
    assert int(green[3:5], 16) > int(green[1:3], 16)  # more green than red
    assert int(red[1:3], 16) > int(red[3:5], 16)
    assert tearsheet._heat_colour(None, 0.06) == "#f8f9fa"


def test_audit_page_with_tear_sheet_is_self_contained_and_escaped() -> None:
    baseline, scaled = _book(6), _book(7)
    scaled["regime"] = np.where(np.arange(len(scaled)) % 300 < 200, "NORMAL", "CRISIS")
    benchmark = _book(8)
    scaled["benchmark_equity"] = benchmark["equity"]
    scaled.attrs["benchmark_label"] = "Benchmark <script>x()</script>"
    sections = tearsheet.render_sections(
        baseline,
        scaled,
        {"Baseline": {}, "Scaled": {}},
        {},
        "Benchmark <script>x()</script>",
        benchmark,
        [
            {
                "run_id": "<img src=x>",
                "config_hash": "h",
                "input_fingerprint": "f",
                "dbt_invocation_id": "i",
                "created_at": "t",
            }
        ],
    )
    page = report.render_two_pass_html(
        {"scaled_run_id": "s"}, baseline, scaled, extra_sections=sections, extra_plots=3
    )
    # equity, drawdown, regimes vs drawdown (no scalar here) and the tear sheet's three
    assert 'data-plots-expected="6"' in page and page.count('<svg class="plot"') == 6
    assert "http://" not in page and "https://" not in page
    assert "url(" not in page and "@import" not in page
    assert "<script>x()" not in page and "<img src=x>" not in page
    assert all(" src=" not in tag for tag in re.findall(r"<script[^>]*>", page))
    # regime shading and the benchmark's wealth on the equity chart
    equity = re.search(r'<svg class="plot" data-plot="equity".*?</svg>', page, re.S).group(0)
    assert 'class="band" data-regime="CRISIS"' in equity
    assert 'data-series="Benchmark &lt;script&gt;x()&lt;/script&gt;"' in equity


def test_without_a_benchmark_the_sections_leave_it_out() -> None:
    html = tearsheet.render_sections(
        _book(9), _book(10), {"Baseline": {}, "Scaled": {}}, None, None, pd.DataFrame(), []
    )
    assert "Benchmark" not in html and "Beta to" not in html
    assert {m for m in re.findall(r'<tr data-book="([^"]+)">', html)} == {"Baseline", "Scaled"}
    assert html.count('<svg class="plot"') == 3
