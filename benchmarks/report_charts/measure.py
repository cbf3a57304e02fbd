"""Hand-written SVG or an inlined charting library for the audit report?

Renders the demo's audit report (with its tear sheet) twice from the same
published tables:

* ``svg``: the report as allocator.comparison writes it (inline SVG built in
  Python, a small hover script with sampled values);
* ``uplot``: the same page with every svg.plot replaced by a uPlot chart
  (https://github.com/leeoniya/uPlot, MIT) drawn from the same decimated
  points, uPlot's minified script and stylesheet inlined, its cursor legend
  giving the hover values. The regime and drawdown bands are left out of this
  variant (uPlot needs a draw hook for them), which favours it slightly.

and measures for each: the file size, the Python time to build the seven charts (SVG text, or
uPlot's JSON), and the page's
own time to load and lay out in headless Chromium (performance.now() at the
load event after forcing layout; uPlot has drawn its canvases by then), plus
the wall time of the whole Chromium process. Runs alternate between the two
variants; medians are reported.

uPlot is fetched with npm (``npm pack uplot@1.6.32``) into --cache; it is not
a dependency of the project.

    python benchmarks/report_charts/measure.py --db allocator.duckdb --run-id demo_scaled
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from allocator import charts, report, tearsheet
from allocator.comparison import load_comparison, load_daily
from allocator.database import use_published_schemas

UPLOT = "uplot@1.6.32"
CHROMIUM = Path("/usr/bin/chromium")
TIMER = """
<script>
  window.addEventListener("load", function () {
    document.body.getBoundingClientRect();
    document.body.dataset.renderMs = performance.now().toFixed(1);
  });
</script>
"""
UPLOT_INIT = """
<script>
  (function () {
    var specs = JSON.parse(document.getElementById("uplot-data").textContent);
    function pct(u, v) { return v == null ? "-" : (v * 100).toFixed(2) + "%"; }
    function plain(u, v) { return v == null ? "-" : v.toFixed(3); }
    for (var i = 0; i < specs.length; i++) {
      var spec = specs[i];
      var host = document.querySelector('div.uplot-host[data-plot="' + spec.key + '"]');
      var series = [{}];
      for (var s = 0; s < spec.lines.length; s++) {
        var line = spec.lines[s];
        series.push({label: line.label, stroke: line.colour, width: line.width,
                     dash: line.dash, spanGaps: false, value: spec.pct ? pct : plain});
      }
      new uPlot({title: spec.title, width: host.clientWidth || 1100, height: spec.height,
                 scales: {x: {time: true}, y: spec.log ? {distr: 3} : {}},
                 series: series}, spec.data, host);
    }
  })();
</script>
"""


def fetch_uplot(cache: Path) -> tuple[str, str]:
    """uPlot's minified script and stylesheet, from npm (once)."""
    package = cache / "package" / "dist"
    if not (package / "uPlot.iife.min.js").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "pack", UPLOT], cwd=cache, capture_output=True, text=True, check=True
        )
        with tarfile.open(cache / out.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(cache, filter="data")
    return (
        (package / "uPlot.iife.min.js").read_text(),
        (package / "uPlot.min.css").read_text(),
    )


def load_report_inputs(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    comparison = load_comparison(con, run_id)
    baseline = load_daily(con, comparison["baseline_run_id"], with_allocator=False)
    scaled = load_daily(con, run_id, with_allocator=True)
    sheet = tearsheet.audit_tearsheet(con, comparison["baseline_run_id"], run_id, baseline, scaled)
    return {
        "comparison": comparison,
        "baseline": baseline,
        "scaled": sheet.scaled_daily,
        "sheet": sheet,
    }


def render_svg(inputs: dict[str, Any]) -> str:
    return report.render_two_pass_html(
        inputs["comparison"],
        inputs["baseline"],
        inputs["scaled"],
        extra_sections=inputs["sheet"].html,
        extra_plots=inputs["sheet"].plot_count,
    )


def chart_objects(inputs: dict[str, Any]) -> list[Any]:
    """The report's seven charts as charts.Chart objects (data, not SVG)."""
    baseline = charts.prepare_daily(inputs["baseline"], "baseline", ("date", "equity"))
    scaled = charts.prepare_daily(inputs["scaled"], "scaled", ("date", "equity"))
    x_domain = charts.date_domain(baseline, scaled)
    bands = report._bands(scaled)
    drawn = [
        report._equity_chart(baseline, scaled, x_domain, bands),
        report._drawdown_chart(baseline, scaled, x_domain),
        report._risk_scalar_chart(scaled, x_domain, bands),
        report._regime_drawdown_chart(baseline, x_domain, bands),
    ]
    books = [
        tearsheet.Book("Baseline", charts.BASELINE_COLOUR, baseline),
        tearsheet.Book("Scaled", charts.SCALED_COLOUR, scaled),
    ]
    periods = {"Scaled": tearsheet.drawdown_periods(scaled["date"], scaled["drawdown"])}
    drawn += [spec[0] for spec in tearsheet.tearsheet_charts(books, periods, x_domain)]
    return [c for c in drawn if c is not None]


def uplot_spec(chart: Any) -> dict[str, Any]:
    """One chart's decimated points, aligned on a shared x (seconds)."""
    columns = []
    for line in chart.lines:
        positions = charts.decimate_positions(line.y, report.MAX_POINTS_PER_LINE)
        columns.append(pd.Series(line.y[positions], index=line.x[positions]))
    frame = pd.concat(columns, axis=1).sort_index()
    data = [[round(x * 86400) for x in frame.index]]
    for column in frame.columns:
        data.append(
            [
                None if not math.isfinite(v) else round(float(v), 6)
                for v in frame[column].to_numpy(dtype=float)
            ]
        )
    return {
        "key": chart.key,
        "title": chart.title,
        "height": chart.height,
        "log": bool(chart.log_y),
        "pct": chart.y_format is not None,
        "lines": [
            {
                "label": ln.label,
                "colour": ln.colour,
                "width": ln.width,
                "dash": [float(d) for d in ln.dash.split()] if ln.dash else None,
            }
            for ln in chart.lines
        ],
        "data": data,
    }


def render_uplot(svg_html: str, charts: list[Any], script: str, css: str) -> str:
    """The SVG page with each svg.plot swapped for a uPlot host."""
    page = re.sub(
        r'<svg class="plot" data-plot="(\w+)".*?</svg>',
        lambda m: f'<div class="uplot-host" data-plot="{m.group(1)}"></div>',
        svg_html,
        flags=re.S,
    )
    page = re.sub(
        r'<script type="application/json" class="hover-data".*?</script>', "", page, flags=re.S
    )
    payload = json.dumps([uplot_spec(c) for c in charts], separators=(",", ":"))
    inject = (
        f"<style>{css}</style><script>{script}</script>"
        f'<script type="application/json" id="uplot-data">{payload}</script>{UPLOT_INIT}'
    )
    return page.replace("</body>", inject + "</body>")


def chromium_render(path: Path) -> tuple[float, float]:
    """(page time to load and lay out in ms, wall time of Chromium in s)."""
    with tempfile.TemporaryDirectory() as profile:
        start = time.perf_counter()
        out = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                f"--user-data-dir={profile}",
                "--window-size=1200,3000",
                "--dump-dom",
                path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        wall = time.perf_counter() - start
    match = re.search(r'data-render-ms="([\d.]+)"', out.stdout)
    if match is None:
        raise RuntimeError(f"no render time in the DOM of {path}")
    return float(match.group(1)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("allocator.duckdb"))
    parser.add_argument("--run-id", default="demo_scaled")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "uplot-npm")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "report_charts")
    args = parser.parse_args()

    script, css = fetch_uplot(args.cache)
    con = duckdb.connect(str(args.db), read_only=True)
    use_published_schemas(con)
    inputs = load_report_inputs(con, args.run_id)
    args.out.mkdir(parents=True, exist_ok=True)
    charts = chart_objects(inputs)
    pages = {"svg": render_svg(inputs)}
    pages["uplot"] = render_uplot(pages["svg"], charts, script, css)
    # the renderer-specific work: the seven charts as SVG, or as uPlot's JSON
    python_ms: dict[str, list[float]] = {"svg": [], "uplot": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        [report.render_line_chart(chart) for chart in charts]
        python_ms["svg"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        json.dumps([uplot_spec(chart) for chart in charts])
        python_ms["uplot"].append((time.perf_counter() - start) * 1000)
    paths = {}
    for name, page in pages.items():
        paths[name] = args.out / f"report_{name}.html"
        paths[name].write_text(page.replace("</body>", TIMER + "</body>"), encoding="utf-8")
    page_ms: dict[str, list[float]] = {"svg": [], "uplot": []}
    wall_s: dict[str, list[float]] = {"svg": [], "uplot": []}
    for _ in range(args.repeats):
        for name in ("svg", "uplot"):
            ms, wall = chromium_render(paths[name])
            page_ms[name].append(ms)
            wall_s[name].append(wall)
    results = {
        name: {
            "bytes": len(pages[name].encode("utf-8")),
            "python_render_ms": statistics.median(python_ms[name]),
            "page_load_layout_ms": statistics.median(page_ms[name]),
            "page_load_layout_ms_range": [min(page_ms[name]), max(page_ms[name])],
            "chromium_wall_s": statistics.median(wall_s[name]),
        }
        for name in ("svg", "uplot")
    }
    results["library_bytes"] = len(script.encode()) + len(css.encode())
    results["repeats"] = args.repeats
    print(json.dumps(results, indent=2))
    print(f"pages: {paths['svg']} {paths['uplot']}")


if __name__ == "__main__":
    main()
