"""Headless-Chromium check that the two-pass audit report really renders.

Unit tests prove the HTML contains the right SVG; only a browser proves the SVG
draws something. The page's inline self-check script calls getBBox() on each
plot's data lines and records the result in data-* attributes, which we read
back from ``--dump-dom``. A screenshot guards against a page that "renders" but
is blank. Always collected; skipped with a reason when Chromium is absent
(install it with scripts/install_chromium.sh).
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from allocator.report import write_two_pass_html

CHROMIUM = Path(os.environ.get("ALLOCATOR_CHROMIUM", "/usr/bin/chromium"))
EXPECTED_PLOTS = {"equity", "drawdown", "risk_scalar", "regime_drawdown"}
TIMEOUT_S = 60
# A blank 1200x2400 page compresses to a few kB; the report with four plots is
# several hundred kB, so this floor only rejects trivial/blank screenshots.
MIN_SCREENSHOT_BYTES = 50_000

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
    reason=f"{CHROMIUM} not found; run scripts/install_chromium.sh (as root) to enable",
)


def _frames(n: int = 2500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """About ten years of deterministic daily data visiting all four regimes."""
    dates = pd.bdate_range("2012-01-02", periods=n)
    idx = pd.Series(range(n), dtype=float)
    cycle = ["NORMAL", "NORMAL", "ELEVATED", "STRESS", "CRISIS", "STRESS", "ELEVATED"]
    regime = pd.Series([cycle[(i // 90) % len(cycle)] for i in range(n)])
    shock = regime.map({"NORMAL": 0.0004, "ELEVATED": 0.0, "STRESS": -0.001, "CRISIS": -0.003})
    returns = shock + 0.007 * idx.map(lambda i: math.sin(i / 6.0) * math.cos(i / 41.0))
    scalar = regime.map({"NORMAL": 1.0, "ELEVATED": 0.8, "STRESS": 0.55, "CRISIS": 0.3}).shift(1)
    scalar.iloc[:30] = float("nan")

    def daily(rets: pd.Series) -> pd.DataFrame:
        equity = (1.0 + rets).cumprod()
        drawdown = equity / equity.cummax() - 1.0
        return pd.DataFrame(
            {"date": dates, "portfolio_return": rets, "equity": equity, "drawdown": drawdown}
        )

    baseline = daily(returns)
    scaled = daily(returns * scalar.fillna(1.0))
    scaled["risk_scalar"] = scalar
    scaled["regime"] = regime.astype(object).where(idx >= 30, None)
    return baseline, scaled


COMPARISON = {
    "baseline_run_id": "browser<base>",
    "scaled_run_id": "browser_scaled",
    "strategy_profile": "core_v1",
    "start_date": "2012-01-02",
    "end_date": "2021-07-30",
    "metrics": [
        {"metric": "CAGR", "baseline": 0.0935, "scaled": 0.0882, "delta": -0.0053, "unit": "pct"},
        {"metric": "Sharpe", "baseline": 0.66, "scaled": 0.72, "delta": 0.06, "unit": "ratio"},
        {"metric": "MaxDD", "baseline": -0.1532, "scaled": -0.121, "delta": 0.0322, "unit": "pct"},
    ],
    "flags": [{"flag": "maxdd_worse_than_baseline", "status": "good", "detail": "improved"}],
    "drawdown_episodes": [
        {
            "episode_rank": 1,
            "cadence": "rebalance_lagged",
            "peak_date": "2013-02-26",
            "trough_date": "2013-05-07",
            "recovery_date": None,
            "baseline_drawdown": -0.15,
            "scaled_drawdown": -0.12,
            "first_alarm_date": "2013-03-05",
            "detection_lag_sessions": 5,
            "is_alarm_before_trough": True,
            "first_earning_date": "2013-04-02",
            "delivery_lag_sessions": 20,
        }
    ],
}


def _chromium(*args: str, user_data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with networking, sync and updates switched off."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
        "--virtual-time-budget=3000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


class _DomAttributes(HTMLParser):
    """Body attributes and the attributes of every svg.plot in the dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.plots: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = attributes
        elif tag == "svg" and "plot" in attributes.get("class", "").split():
            self.plots.append(attributes)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    baseline, scaled = _frames()
    path = tmp_path_factory.mktemp("report") / "two_pass.html"
    return write_two_pass_html(path, COMPARISON, baseline, scaled)


def test_plots_render_in_chromium(report: Path, tmp_path: Path) -> None:
    result = _chromium("--dump-dom", report.as_uri(), user_data_dir=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _DomAttributes()
    dom.feed(result.stdout)
    assert {p.get("data-plot") for p in dom.plots} == EXPECTED_PLOTS
    assert dom.body.get("data-plots-rendered") == str(len(EXPECTED_PLOTS)), dom.body
    not_ok = [p.get("data-plot") for p in dom.plots if p.get("data-plot-ok") != "true"]
    assert not not_ok, f"plots without a drawn line: {not_ok}"
    # the episode table and its two markers on the drawdown plot survive the browser
    assert 'id="drawdown-episodes"' in result.stdout
    assert result.stdout.count('data-marker="alarm"') == 1
    assert result.stdout.count('data-marker="earning"') == 1


def test_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    result = _chromium(
        f"--screenshot={png}",
        "--window-size=1200,2400",
        report.as_uri(),
        user_data_dir=tmp_path / "profile",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.is_file(), result.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR follows the signature
    assert (width, height) == (1200, 2400)
    assert len(data) > MIN_SCREENSHOT_BYTES, f"screenshot only {len(data)} bytes"
