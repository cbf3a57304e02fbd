"""Unit tests for the two-pass audit HTML report (allocator.report).

The daily frames are synthetic and deterministic (pandas + math only): a sine
driven return stream and a regime schedule that visits all four regimes, with a
null warm-up like the real classifier output.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from allocator.charts import (
    MAX_POINTS_PER_LINE,
    REGIME_COLOURS,
    date_ticks,
    decimate_positions,
    format_delta,
    format_value,
    regime_segments,
)
from allocator.report import episode_markers, render_two_pass_html, write_two_pass_html

PLOTS = {"equity", "drawdown", "risk_scalar", "regime_drawdown"}
REGIME_CYCLE = ["NORMAL", "ELEVATED", "STRESS", "CRISIS", "STRESS", "ELEVATED"]
SCALAR_BY_REGIME = {"NORMAL": 1.0, "ELEVATED": 0.8, "STRESS": 0.55, "CRISIS": 0.3}
WARMUP = 20


def _frames(n: int = 600, block: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Baseline and scaled daily frames shaped like the audit's daily outputs."""
    dates = pd.bdate_range("2005-01-03", periods=n)
    idx = pd.Series(range(n), dtype=float)
    regime = pd.Series([REGIME_CYCLE[(i // block) % len(REGIME_CYCLE)] for i in range(n)])
    shock = regime.map({"NORMAL": 0.0, "ELEVATED": -0.001, "STRESS": -0.003, "CRISIS": -0.006})
    returns = 0.0006 + 0.008 * idx.map(lambda i: math.sin(i / 9.0)) + shock
    scalar = regime.map(SCALAR_BY_REGIME).shift(1)
    scalar.iloc[:WARMUP] = float("nan")
    regime_out = regime.astype(object).where(idx >= WARMUP, None)

    def daily(rets: pd.Series) -> pd.DataFrame:
        equity = (1.0 + rets).cumprod()
        return pd.DataFrame(
            {
                "date": dates,
                "portfolio_return": rets.to_numpy(),
                "equity": equity.to_numpy(),
                "drawdown": (equity / equity.cummax() - 1.0).to_numpy(),
            }
        )

    baseline = daily(returns)
    scaled = daily(returns * scalar.fillna(1.0))
    scaled["risk_scalar"] = scalar.to_numpy()
    scaled["regime"] = regime_out.to_numpy()
    return baseline, scaled


COMPARISON = {
    "baseline_run_id": "base",
    "scaled_run_id": "scaled",
    "strategy_profile": "core_v1",
    "start_date": "2005-01-03",
    "end_date": "2022-12-28",
    "metrics": [
        {"metric": "CAGR", "baseline": 0.0935, "scaled": 0.0882, "delta": -0.0053, "unit": "pct"},
        {
            "metric": "Ann Vol",
            "baseline": 0.1201,
            "scaled": 0.1045,
            "delta": -0.0156,
            "unit": "pct",
        },
        {"metric": "Sharpe", "baseline": 0.66, "scaled": 0.72, "delta": 0.06, "unit": "ratio"},
        {"metric": "MaxDD", "baseline": -0.1532, "scaled": -0.1210, "delta": 0.0322, "unit": "pct"},
        {"metric": "Worst Month", "baseline": -0.0845, "scaled": -0.0623, "delta": 0.0222},
        {"metric": "Worst Quarter", "baseline": -0.123, "scaled": None, "delta": None},
    ],
    "scalar_usage": {
        "rebalances_total": 216,
        "rebalances_scaled": 40,
        "pct_scaled": 0.185,
        "scalar_mean": 0.93,
        "scalar_min": 0.31,
        "scalar_max": 1.0,
    },
    "regimes": [
        {"regime": "NORMAL", "days": 3000, "pct": 0.7, "longest_run_days": 400},
        {"regime": "CRISIS", "days": 90, "pct": 0.021, "longest_run_days": 30},
    ],
    "flags": [
        {"flag": "maxdd_worse_than_baseline", "status": "good", "detail": "MaxDD improved"},
        {"flag": "regime_thrashing", "status": "warning", "detail": "23 transitions/year"},
    ],
    "top_derisk_events": [{"date": "2008-10-31", "scalar": 0.31, "regime": "CRISIS"}],
}


class _Collector(HTMLParser):
    """Collects start tags (with attributes) and, per svg.plot, its child elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.svgs: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "svg" and "plot" in attributes.get("class", "").split():
            self._current = attributes["data-plot"]
            self.svgs[self._current] = []
        elif self._current is not None:
            self.svgs[self._current].append((tag, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._current = None


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    return parser


def _path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", d)]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _frames()


@pytest.fixture(scope="module")
def page(frames: tuple[pd.DataFrame, pd.DataFrame]) -> str:
    return render_two_pass_html(COMPARISON, *frames)


def test_all_four_plots_present_with_a_drawn_series(page: str) -> None:
    parsed = _parse(page)
    assert set(parsed.svgs) == PLOTS
    for key, children in parsed.svgs.items():
        series = [a for tag, a in children if tag == "path" and a.get("class") == "series"]
        assert series, key
        assert all(len(_path_points(a["d"])) > 10 for a in series), key
    assert page.count('class="plot"') == len(PLOTS)
    assert f'data-plots-expected="{len(PLOTS)}"' in page


def test_plots_have_titles_axes_and_legends(page: str) -> None:
    parsed = _parse(page)
    assert "Wealth (log scale, start = 1)" in page
    for key, children in parsed.svgs.items():
        classes = {a.get("class") for _, a in children}
        assert {"plot-title", "legend", "axis-label"} <= classes, key
    # Date ticks on the x axis: the 2.3-year synthetic run gets quarterly labels.
    x_ticks = re.search(r'class="ticks x-ticks".*?</g>', page).group(0)
    labels = re.findall(r">([^<]+)</text>", x_ticks)
    assert len(labels) >= 3 and all(re.fullmatch(r"\d{4}-\d{2}", lab) for lab in labels)


def test_multi_year_runs_get_year_ticks() -> None:
    ticks = date_ticks(pd.Timestamp("2005-01-03"), pd.Timestamp("2022-12-28"))
    assert [t.year for t in ticks] == list(range(2006, 2023, 2))
    assert all(t.month == 1 and t.day == 1 for t in ticks)


def test_equity_plot_has_two_labelled_lines(page: str) -> None:
    children = _parse(page).svgs["equity"]
    labels = [a["data-series"] for tag, a in children if tag == "path"]
    assert labels == ["Baseline", "Scaled"]


def test_metrics_table_values_formatted(page: str) -> None:
    for text in ("9.35%", "8.82%", "-0.53%", "-15.32%", "-12.10%", "+3.22%", "0.66", "+0.06"):
        assert f">{text}</td>" in page, text
    # Improvements green, deteriorations red; None renders as a dash.
    assert '<td class="num better">+3.22%</td>' in page
    assert '<td class="num worse">-0.53%</td>' in page
    assert '<td class="num better">-1.56%</td>' in page  # lower vol is better
    assert '<td>Worst Quarter</td><td class="num">-12.30%</td><td class="num">\u2013</td>' in page


def test_sections_rendered(page: str) -> None:
    for text in ("18.5%", "216", "core_v1", "2005-01-03 to 2022-12-28", "2008-10-31"):
        assert text in page, text
    assert 'data-status="warning"' in page
    assert "1 warning(s), 1 check(s) passed" in page


def test_regime_bands_have_the_right_colours(page: str) -> None:
    for key in ("risk_scalar", "regime_drawdown"):
        bands = [
            a for tag, a in _parse(page).svgs[key] if tag == "rect" and a.get("class") == "band"
        ]
        colours = {a["data-regime"]: a["fill"] for a in bands}
        assert colours == REGIME_COLOURS, key
        assert len(bands) >= 4
        assert all(float(a["fill-opacity"]) < 0.5 for a in bands)
        assert all(float(a["width"]) > 0 for a in bands)


def test_regime_colours_are_green_yellow_orange_red() -> None:
    def hue(colour: str) -> float:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        mx, mn = max(r, g, b), min(r, g, b)
        if mx == r:
            return (60 * (g - b) / (mx - mn)) % 360
        return 60 * (2 + (b - r) / (mx - mn)) if mx == g else 60 * (4 + (r - g) / (mx - mn))

    hues = [hue(REGIME_COLOURS[r]) for r in ("NORMAL", "ELEVATED", "STRESS", "CRISIS")]
    assert 90 <= hues[0] <= 150  # green
    assert 45 <= hues[1] <= 60  # yellow
    assert 25 <= hues[2] <= 45  # orange
    assert hues[3] <= 10 or hues[3] >= 350  # red


def test_regime_segments_are_contiguous_and_skip_nulls() -> None:
    dates = pd.Series(pd.bdate_range("2020-01-01", periods=8))
    regimes = pd.Series([None, None, "NORMAL", "normal", "CRISIS", "CRISIS", None, "STRESS"])
    segments = regime_segments(dates, regimes)
    assert [(s.regime, s.start, s.end) for s in segments] == [
        ("NORMAL", dates[2], dates[4]),
        ("CRISIS", dates[4], dates[6]),
        ("STRESS", dates[7], dates[7]),
    ]


def test_decimation_keeps_extremes_and_last_point() -> None:
    n = 8000
    values = [math.sin(i / 50.0) * 0.1 - 0.2 for i in range(n)]
    values[4321] = -0.9  # a one-day trough between stride points
    values[17] = 0.5
    positions = decimate_positions(values, MAX_POINTS_PER_LINE)
    assert len(positions) <= MAX_POINTS_PER_LINE
    assert {0, 17, 4321, n - 1} <= set(positions.tolist())
    assert list(positions) == sorted(set(positions.tolist()))
    short = decimate_positions([1.0, 2.0, 3.0], MAX_POINTS_PER_LINE)
    assert short.tolist() == [0, 1, 2]


def test_rendered_drawdown_keeps_trough_and_last_day() -> None:
    """The drawn (decimated) drawdown line reaches the marked MaxDD and the last day."""
    baseline, scaled = _frames(n=8000)
    trough = int(baseline["drawdown"].idxmin())
    assert trough % math.ceil(8000 / (MAX_POINTS_PER_LINE - 3)), (
        "trough should not sit on the stride for this test to mean anything"
    )
    page = render_two_pass_html({}, baseline, scaled)
    children = _parse(page).svgs["drawdown"]
    paths = [a for tag, a in children if tag == "path" and a.get("class") == "series"]
    circles = [a for tag, a in children if tag == "circle"]
    assert len(paths) == 2 and len(circles) == 2
    for path, circle in zip(paths, circles, strict=True):
        assert int(path["data-points"]) <= MAX_POINTS_PER_LINE
        points = _path_points(path["d"])
        deepest_y = max(y for _, y in points)  # SVG y grows downwards
        assert deepest_y == float(circle["cy"])
        assert (float(circle["cx"]), float(circle["cy"])) in points
        assert points[-1][0] == max(p[0] for p in points) == 1076.0  # right edge = last day


def test_escapes_user_text(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    evil = {
        **COMPARISON,
        "baseline_run_id": "<script>alert(1)</script>",
        "strategy_profile": 'core"><img src=x onerror=alert(2)>',
        "flags": [{"flag": "x<y", "status": "<b>bad</b>", "detail": "<iframe>"}],
    }
    baseline, scaled = frames
    scaled = scaled.assign(regime=scaled["regime"].where(scaled.index < 100, "<i>odd</i>"))
    page = render_two_pass_html(evil, baseline, scaled, title="Audit <b>&</b>")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    lowered = page.lower()
    assert "<img" not in lowered and "<iframe" not in lowered
    assert "<b>" not in lowered and "<i>" not in lowered
    assert "<title>Audit &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    assert page.count("<script") == 1  # only the self-check script


def test_no_external_urls(page: str) -> None:
    for tag, attrs in _parse(page).tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            assert "http" not in attrs.get(name, ""), (tag, name)
        assert tag not in {"link", "img", "iframe", "object", "embed"}
        if tag == "script":
            assert "src" not in attrs
    assert "http://" not in page and "https://" not in page
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page  # CSP stops the browser fetching anything


def test_missing_optional_sections_are_omitted(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    baseline, scaled = frames
    page = render_two_pass_html({}, baseline, scaled.drop(columns=["risk_scalar", "regime"]))
    assert set(_parse(page).svgs) == {"equity", "drawdown"}
    for section in ('id="metrics"', 'id="flags"', 'id="regimes"', 'id="scalar-usage"'):
        assert section not in page


def test_regime_plot_needs_regimes_but_scalar_plot_does_not(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    baseline, scaled = frames
    page = render_two_pass_html(COMPARISON, baseline, scaled.drop(columns=["regime"]))
    assert set(_parse(page).svgs) == {"equity", "drawdown", "risk_scalar"}


def test_empty_frames_render_without_plots() -> None:
    empty = pd.DataFrame(columns=["date", "portfolio_return", "equity", "drawdown"])
    page = render_two_pass_html(COMPARISON, empty, empty)
    assert 'class="plot"' not in page
    assert "no plots" in page
    assert "-15.32%" in page


def test_unknown_keys_rendered_generically(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    extra = {
        **COMPARISON,
        "config_hash": "abc123",
        "transitions": [{"from": "NORMAL", "to": "ELEVATED", "count": 12}],
    }
    page = render_two_pass_html(extra, *frames)
    assert "Config hash" in page and "abc123" in page
    assert "<h2>Transitions</h2>" in page and "<td>ELEVATED</td>" in page


def test_missing_required_column_raises(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    baseline, scaled = frames
    with pytest.raises(ValueError, match="baseline_daily is missing required column.*drawdown"):
        render_two_pass_html(COMPARISON, baseline.drop(columns=["drawdown"]), scaled)


def test_accepts_python_dates_and_unsorted_rows(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    baseline, scaled = frames
    shuffled = baseline.iloc[::-1].assign(date=[d.date() for d in baseline["date"].iloc[::-1]])
    page = render_two_pass_html(COMPARISON, shuffled, scaled)
    assert page == render_two_pass_html(COMPARISON, baseline, scaled)
    assert isinstance(shuffled["date"].iloc[0], dt.date)


def test_render_is_deterministic(frames: tuple[pd.DataFrame, pd.DataFrame], page: str) -> None:
    assert render_two_pass_html(COMPARISON, *frames) == page


def test_large_series_render_fast_and_small() -> None:
    baseline, scaled = _frames(n=8000, block=150)
    start = time.perf_counter()
    page = render_two_pass_html(COMPARISON, baseline, scaled)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"render took {elapsed:.2f}s"
    assert len(page) < 400_000
    points = [int(p) for p in re.findall(r'data-points="(\d+)"', page)]
    assert points and max(points) <= MAX_POINTS_PER_LINE


def test_write_two_pass_html(tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    target = tmp_path / "nested" / "two_pass.html"
    written = write_two_pass_html(target, COMPARISON, *frames, title="T")
    assert written == target
    assert target.read_text(encoding="utf-8") == render_two_pass_html(
        COMPARISON, *frames, title="T"
    )


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (-0.1532, "pct", "-15.32%"),
        (0.66, "ratio", "0.66"),
        (0.185, "pct1", "18.5%"),
        (216, "count", "216"),
        (float("nan"), "pct", "\u2013"),
        (None, "ratio", "\u2013"),
        ("n/a", "pct", "n/a"),
    ],
)
def test_format_value(value: object, unit: str, expected: str) -> None:
    assert format_value(value, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [(0.0322, "pct", "+3.22%"), (-0.0053, "pct", "-0.53%"), (0.06, "ratio", "+0.06")],
)
def test_format_delta(value: float, unit: str, expected: str) -> None:
    assert format_delta(value, unit) == expected


def test_template_is_package_data() -> None:
    template = resources.files("allocator").joinpath("templates/two_pass_comparison.html.j2")
    assert template.is_file()


EPISODES = [
    {
        "episode_rank": 1,
        "cadence": "rebalance_lagged",
        "peak_date": "2005-03-01",
        "trough_date": "2005-05-02",
        "recovery_date": None,
        "baseline_drawdown": -0.2,
        "scaled_drawdown": -0.15,
        "first_alarm_date": "2005-03-08",
        "detection_lag_sessions": 5,
        "is_alarm_before_trough": True,
        "first_earning_date": "2005-04-01",
        "delivery_lag_sessions": 18,
    },
    {
        "episode_rank": 2,
        "cadence": "rebalance_lagged",
        "peak_date": "2005-06-01",
        "trough_date": "2005-06-10",
        "recovery_date": "2005-07-01",
        "baseline_drawdown": -0.05,
        "scaled_drawdown": -0.05,
        "first_alarm_date": None,
        "detection_lag_sessions": None,
        "is_alarm_before_trough": None,
        "first_earning_date": None,
        "delivery_lag_sessions": None,
    },
    {
        "episode_rank": 3,
        "cadence": "rebalance_lagged",
        "peak_date": "2007-01-01",
        "trough_date": "2007-02-01",
        "recovery_date": None,
        "baseline_drawdown": -0.04,
        "scaled_drawdown": -0.03,
        # a weekend: not a session of the frames, so no marker
        "first_alarm_date": "2005-03-12",
        "detection_lag_sessions": 1,
        "is_alarm_before_trough": True,
        "first_earning_date": "2005-03-14",
        "delivery_lag_sessions": 1,
    },
]
FALSE_ALARMS = {
    "months_total": 214,
    "months_with_alarm": 33,
    "alarm_month_share": 33 / 214,
    "alarm_spells": 13,
    "median_spell_sessions": 28.0,
    "alarm_horizon_sessions": 40,
    "drawdown_threshold": -0.05,
    "false_alarm_spells": 1,
    "false_alarm_share": 1 / 13,
    "spells_without_fresh_loss": 9,
    "no_fresh_loss_share": 9 / 13,
}


def test_episode_markers_sit_on_the_baseline_drawdown(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    baseline, _ = frames
    markers = episode_markers(EPISODES, baseline)
    by_date = baseline.set_index("date")["drawdown"]
    # episode 2 saw no alarm; episode 3's alarm falls on a Saturday
    assert [(m.episode, m.kind) for m in markers] == [(1, "alarm"), (1, "earning"), (3, "earning")]
    for marker, day in zip(markers, ["2005-03-08", "2005-04-01", "2005-03-14"], strict=True):
        assert marker.y == by_date[pd.Timestamp(day)]
        assert marker.x == (pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days
    assert "5 sessions after the peak" in markers[0].tooltip
    assert "18 sessions after the alarm" in markers[1].tooltip


def test_episode_table_false_alarms_and_markers_rendered(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    page = render_two_pass_html(
        {**COMPARISON, "drawdown_episodes": EPISODES, "false_alarms": FALSE_ALARMS}, *frames
    )
    svgs = _parse(page).svgs
    marker_kinds = {
        key: [a["data-marker"] for tag, a in children if tag == "g" and "data-marker" in a]
        for key, children in svgs.items()
    }
    assert marker_kinds["drawdown"] == ["alarm", "earning", "earning"]
    assert all(not kinds for key, kinds in marker_kinds.items() if key != "drawdown")
    assert 'id="drawdown-episodes"' in page and page.count('<tr data-episode="') == 3
    assert "<td>not recovered</td>" in page and "<td>-20.0%</td>" in page
    assert "7.7% (1 of 13)" in page and "15.4% (33 of 214)" in page
    # known sections, not the generic tables of unknown keys
    assert "<h2>Drawdown episodes</h2>" not in page and "<h2>False alarms</h2>" not in page


def test_no_episodes_no_markers_or_table(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    page = render_two_pass_html(COMPARISON, *frames)
    assert "data-marker" not in page and 'id="drawdown-episodes"' not in page


CONTROLS = [
    {"book": "baseline", "book_label": "baseline (unscaled book)", "exposure_rule": "unscaled",
     "exposure_parameter": None, "mean_exposure": 1.0, "cagr": 0.0832, "ann_vol": 0.1105,
     "sharpe": 0.7784, "max_drawdown": -0.1913, "worst_month": -0.0986, "worst_quarter": -0.0915,
     "governor_beats_max_drawdown": True, "governor_beats_sharpe": False},
    {"book": "governor", "book_label": "governor (scaled run)", "exposure_rule": "risk_scalar",
     "exposure_parameter": None, "mean_exposure": 0.9233, "cagr": 0.0789, "ann_vol": 0.106,
     "sharpe": 0.7699, "max_drawdown": -0.1834, "worst_month": -0.0904, "worst_quarter": None,
     "governor_beats_max_drawdown": None, "governor_beats_sharpe": None},
    {"book": "vol_target", "book_label": "(c) vol target min(1, k / rv20)",
     "exposure_rule": "vol_target", "exposure_parameter": 0.13205, "mean_exposure": 0.9622,
     "cagr": 0.0807, "ann_vol": 0.106, "sharpe": 0.7855, "max_drawdown": -0.1701,
     "worst_month": -0.0986, "worst_quarter": -0.0912,
     "governor_beats_max_drawdown": False, "governor_beats_sharpe": False},
]  # fmt: skip


def test_controls_table_rendered(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    page = render_two_pass_html({**COMPARISON, "controls": CONTROLS}, *frames)
    assert 'id="controls"' in page
    assert '<tr data-book="governor" class="governor">' in page
    # Sharpe to three decimals, the vol target's k and mean exposure, beats marks
    assert ">0.770</td>" in page and ">0.785</td>" in page
    assert "<td>k = 0.1321, mean 0.96</td>" in page
    assert '<td class="num better">yes</td><td class="num worse">no</td></tr>' in page
    assert '<td class="num">\u2013</td>' in page  # the governor's missing quarter
    # a known section, not a generic table
    assert "<h2>Controls</h2>" not in page
    assert 'id="controls"' not in render_two_pass_html(COMPARISON, *frames)
