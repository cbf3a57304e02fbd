"""Headless Chromium on the tear sheet and the run comparison: every chart
draws a line, and a pointer over every chart shows its hover values.

The pages are the audit report with its tear-sheet sections and the
`allocator compare` page, built from synthetic books. A probe script added
for the test moves a synthetic pointer over each svg.plot and records the
tooltip's text in data-* attributes, which --dump-dom returns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.browser.test_report_renders import (
    CHROMIUM,
    COMPARISON,
    EXPECTED_PLOTS,
    _chromium,
    _DomAttributes,
    _frames,
)

from allocator import compare_runs, report, tearsheet

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found; run scripts/install_chromium.sh"
)

TEARSHEET_PLOTS = {"rolling_vol", "rolling_sharpe", "underwater"}
PROBE = """
<script>
  window.addEventListener("load", function () {
    var plots = document.querySelectorAll("svg.plot"), tip = document.getElementById("hover-tip");
    var shown = 0;
    for (var i = 0; i < plots.length; i++) {
      var box = plots[i].getBoundingClientRect();
      tip.style.display = "none"; tip.textContent = "";
      plots[i].dispatchEvent(new MouseEvent("mousemove", {
        clientX: box.left + box.width * 0.6, clientY: box.top + box.height / 2, bubbles: true}));
      if (tip.style.display === "block" && /\\d{4}-\\d{2}-\\d{2}/.test(tip.textContent)) {
        plots[i].setAttribute("data-hover-shown", tip.textContent); shown += 1;
      }
    }
    document.body.dataset.hoverShown = String(shown);
  });
</script>
"""


def _with_probe(html: str) -> str:
    return html.replace("</body>", PROBE + "</body>")


def _dom(path: Path, tmp_path: Path) -> _DomAttributes:
    result = _chromium("--dump-dom", path.as_uri(), user_data_dir=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _DomAttributes()
    dom.feed(result.stdout)
    return dom


def _assert_every_plot_drawn_and_hovered(dom: _DomAttributes, expected: set[str]) -> None:
    assert {p.get("data-plot") for p in dom.plots} == expected
    assert dom.body.get("data-plots-rendered") == str(len(expected)), dom.body
    not_drawn = [p.get("data-plot") for p in dom.plots if p.get("data-plot-ok") != "true"]
    assert not not_drawn, f"plots without a drawn line: {not_drawn}"
    no_hover = [p.get("data-plot") for p in dom.plots if not p.get("data-hover-shown")]
    assert not no_hover, f"plots without hover values: {no_hover}"
    assert dom.body.get("data-hover-shown") == str(len(expected))


def test_audit_report_with_tear_sheet_renders(tmp_path: Path) -> None:
    baseline, scaled = _frames()
    benchmark = compare_runs.daily_book(baseline["date"], baseline["portfolio_return"] * 0.8)
    scaled = scaled.merge(
        benchmark[["date", "equity"]].rename(columns={"equity": "benchmark_equity"}), on="date"
    )
    sections = tearsheet.render_sections(
        baseline,
        scaled,
        {"Baseline": {"sortino": 1.0}, "Scaled": {"sortino": 1.1}},
        {"sortino": 0.5},
        "Benchmark",
        benchmark,
        [],
    )
    html = report.render_two_pass_html(
        COMPARISON, baseline, scaled, extra_sections=sections, extra_plots=3
    )
    path = tmp_path / "audit.html"
    path.write_text(_with_probe(html), encoding="utf-8")
    dom = _dom(path, tmp_path)
    _assert_every_plot_drawn_and_hovered(dom, EXPECTED_PLOTS | TEARSHEET_PLOTS)
    equity = next(p for p in dom.plots if p.get("data-plot") == "equity")
    assert "Benchmark:" in equity["data-hover-shown"] and "Regime:" in equity["data-hover-shown"]


def test_run_comparison_renders(tmp_path: Path) -> None:
    baseline, scaled = _frames()
    sides = []
    for label, frame in (("a", baseline), ("b", scaled)):
        daily = frame[["date", "portfolio_return", "equity", "drawdown"]]
        regimes = pd.Series(["NORMAL"] * len(frame))
        metrics = compare_runs.measure(daily)
        sides.append(
            compare_runs.RunSide(label, label, "folder", label, daily, regimes, metrics, {})
        )
    doc = compare_runs.compare(*sides)
    path = tmp_path / "compare.html"
    path.write_text(_with_probe(compare_runs.render_html(doc, *sides)), encoding="utf-8")
    _assert_every_plot_drawn_and_hovered(_dom(path, tmp_path), {"equity", "underwater"})
