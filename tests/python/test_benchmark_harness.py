"""Fast tests of the scale benchmark's pure helpers (benchmarks/run_benchmark.py).

No dbt runs here: stage attribution is checked on a tiny fake manifest and
run_results.json, and the results table on a hand-made record.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "run_benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("run_benchmark", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_benchmark"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _model(name: str, path: str) -> dict:
    return {
        "resource_type": "model",
        "name": name,
        "original_file_path": path,
        "depends_on": {"nodes": []},
    }


MANIFEST = {
    "nodes": {
        "seed.allocator.strategy_profiles": {
            "resource_type": "seed",
            "name": "strategy_profiles",
            "original_file_path": "seeds/strategy_profiles.csv",
        },
        "model.allocator.stg_market__prices": _model(
            "stg_market__prices", "models/staging/stg_market__prices.sql"
        ),
        "model.allocator.weights_raw": _model("weights_raw", "models/strategy/weights_raw.sql"),
        "model.allocator.sleeve_returns": _model(
            "sleeve_returns", "models/execution/sleeve_returns.sql"
        ),
        "model.allocator.allocator_risk_v1": _model(
            "allocator_risk_v1", "models/allocator/allocator_risk_v1.py"
        ),
        "model.allocator.run_metrics": _model("run_metrics", "models/marts/run_metrics.sql"),
        "model.allocator.two_pass_flags": _model(
            "two_pass_flags", "models/marts/two_pass_flags.sql"
        ),
        "test.allocator.not_null_weights_raw_weight.abc": {
            "resource_type": "test",
            "attached_node": "model.allocator.weights_raw",
            "depends_on": {"nodes": ["model.allocator.weights_raw"]},
            "original_file_path": "models/strategy/_strategy__models.yml",
        },
        "test.allocator.assert_sleeves_sum_to_book": {
            "resource_type": "test",
            "attached_node": None,
            "depends_on": {
                "nodes": ["model.allocator.weights_raw", "model.allocator.sleeve_returns"]
            },
            "original_file_path": "tests/singular/assert_sleeves_sum_to_book.sql",
        },
        "test.allocator.relationships_flags.def": {
            "resource_type": "test",
            "attached_node": "model.allocator.two_pass_flags",
            "depends_on": {
                "nodes": ["model.allocator.run_metrics", "model.allocator.two_pass_flags"]
            },
            "original_file_path": "models/marts/_marts__models.yml",
        },
    },
    "unit_tests": {
        "unit_test.allocator.allocator_risk_v1.ewma_starts_at_first_target": {
            "depends_on": {"nodes": ["model.allocator.allocator_risk_v1"]},
        },
    },
}


def _result(uid: str, seconds: float, status: str = "success") -> dict:
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    return {
        "unique_id": uid,
        "status": status,
        "execution_time": seconds,
        "timing": [
            {
                "name": "compile",
                "started_at": start.isoformat() + "Z",
                "completed_at": (start + dt.timedelta(seconds=0.25)).isoformat() + "Z",
            }
        ],
    }


RUN_RESULTS = {
    "elapsed_time": 9.0,
    "results": [
        _result("seed.allocator.strategy_profiles", 0.5),
        _result("model.allocator.stg_market__prices", 1.0),
        _result("model.allocator.weights_raw", 2.0),
        _result("test.allocator.not_null_weights_raw_weight.abc", 0.25, "pass"),
        _result("model.allocator.sleeve_returns", 0.5),
        _result("test.allocator.assert_sleeves_sum_to_book", 0.125, "pass"),
        _result("model.allocator.allocator_risk_v1", 3.0),
        _result("unit_test.allocator.allocator_risk_v1.ewma_starts_at_first_target", 0.5, "pass"),
        _result("model.allocator.run_metrics", 0.25),
        _result("model.allocator.two_pass_flags", 0.75),
        _result("test.allocator.relationships_flags.def", 0.125, "fail"),
    ],
}


def test_model_stage_by_folder(bench):
    assert bench.model_stage("seeds/x.csv", "x") == "staging"
    assert bench.model_stage("models/staging/stg_a.sql", "stg_a") == "staging"
    assert bench.model_stage("models/allocator/allocator_risk_v1.py", "r") == "allocator"
    assert bench.model_stage("models/marts/two_pass_pairs.sql", "two_pass_pairs") == "comparison"
    assert bench.model_stage("models/marts/runs.sql", "runs") == "marts"
    assert bench.model_stage("models/misc.sql", "misc") == "other"


def test_stage_map_attributes_tests_to_their_model(bench):
    stages = bench.stage_map(MANIFEST)
    assert stages["seed.allocator.strategy_profiles"] == "staging"
    assert stages["test.allocator.not_null_weights_raw_weight.abc"] == "strategy"
    # no attached node: the latest stage among its parents
    assert stages["test.allocator.assert_sleeves_sum_to_book"] == "execution"
    # attached node wins over the other parents
    assert stages["test.allocator.relationships_flags.def"] == "comparison"
    unit = "unit_test.allocator.allocator_risk_v1.ewma_starts_at_first_target"
    assert stages[unit] == "allocator"


def test_summarize_run_results_sums_per_stage(bench):
    summary = bench.summarize_run_results(RUN_RESULTS, bench.stage_map(MANIFEST))
    assert summary["stage_seconds"] == {
        "staging": 1.5,
        "strategy": 2.25,
        "execution": 0.625,
        "allocator": 3.5,
        "marts": 0.25,
        "comparison": 0.875,
    }
    assert summary["test_seconds"]["allocator"] == 0.5
    assert summary["kind_seconds"] == {"model": 7.5, "seed": 0.5, "test": 0.5, "unit_test": 0.5}
    assert summary["node_seconds"] == 9.0
    assert summary["compile_seconds"] == pytest.approx(11 * 0.25)
    assert summary["status_counts"] == {"success": 7, "pass": 3, "fail": 1}
    # a node unknown to the manifest is kept, as 'other'
    unknown = bench.summarize_run_results({"results": [_result("model.x.y", 1.0)]}, {})
    assert unknown["stage_seconds"]["other"] == 1.0


def test_combine_adds_passes_and_fixed_overhead(bench):
    summary = bench.summarize_run_results(RUN_RESULTS, bench.stage_map(MANIFEST))
    inv = {
        "wall_s": 12.0,
        "peak_rss_mb": 300.0,
        "returncode": 0,
        "results": summary,
        "phases": {"startup_s": 1.0, "parse_s": 2.0, "partial_parse": "x"},
        "load_before": [0.5, 0.4, 0.3],
        "load_after": [0.9, 0.5, 0.3],
    }
    combined = bench.combine([inv, {**inv, "peak_rss_mb": 350.0, "load_after": [1.2, 0.6, 0.3]}])
    assert combined["ok"]
    assert combined["wall_s"] == 24.0
    assert combined["peak_rss_mb"] == 350.0
    assert combined["stage_seconds"]["allocator"] == 7.0
    assert combined["fixed_overhead_s"] == 6.0
    assert combined["phases"] == {"startup_s": 2.0, "parse_s": 4.0}
    assert combined["load_start"] == [0.5, 0.4, 0.3] and combined["load_end"][0] == 1.2
    assert not bench.combine([{**inv, "returncode": 1}])["ok"]


def test_fixed_overhead_with_two_threads_is_the_wall_outside_the_node_span(bench):
    """Two dbt threads overlap node seconds (here 9 of them in a 12 s wall):
    wall minus node seconds would say 3 s; the log's node span says 5 s."""
    summary = bench.summarize_run_results(RUN_RESULTS, bench.stage_map(MANIFEST))
    phases = {"startup_s": 1.0, "parse_s": 2.0, "setup_s": 0.5, "nodes_s": 7.0}
    inv = {
        "wall_s": 12.0,
        "peak_rss_mb": 300.0,
        "returncode": 0,
        "results": {**summary, "node_seconds": 9.0},
        "phases": phases,
        "load_before": [0.5, 0.4, 0.3],
        "load_after": [0.9, 0.5, 0.3],
    }
    assert bench.combine([inv])["fixed_overhead_s"] == 5.0
    assert bench.combine([inv, inv])["fixed_overhead_s"] == 10.0


def test_profile_threads(bench, tmp_path):
    profiles = tmp_path / "profiles.yml"
    profiles.write_text("allocator:\n  outputs:\n    dev:\n      type: duckdb\n      threads: 2\n")
    assert bench.profile_threads(profiles) == 2
    profiles.write_text("allocator:\n  outputs:\n    dev:\n      type: duckdb\n")
    assert bench.profile_threads(profiles) is None
    assert bench.profile_threads(tmp_path / "missing.yml") is None


def test_log_phases_from_dbt_log(bench):
    start = dt.datetime(2026, 1, 1, 10, 0, 0).timestamp()
    text = "\n".join(
        [
            "\x1b[0m10:00:01.500000 [info ] [MainThread]: Running with dbt=1.11.16",
            "\x1b[0m10:00:02.000000 [info ] [MainThread]: Unable to do partial parsing because "
            "config vars, config profile, or config target have changed",
            "\x1b[0m10:00:04.000000 [info ] [MainThread]: Found 46 models, 50 data tests",
            "\x1b[0m10:00:04.250000 [debug] [Thread-1 (]: Began running node model.a.x",
            "\x1b[0m10:00:05.000000 [debug] [Thread-1 (]: Finished running node model.a.x",
            "\x1b[0m10:00:05.100000 [debug] [Thread-1 (]: Began running node model.a.y",
            "\x1b[0m10:00:09.000000 [info ] [MainThread]: Finished running 2 table models in 0 hours",  # noqa: E501
        ]
    )
    phases = bench.log_phases(text, start, start + 10.0)
    assert phases["startup_s"] == 1.5
    assert phases["parse_s"] == 2.5
    assert phases["setup_s"] == 0.25
    assert phases["nodes_s"] == 4.75
    assert phases["teardown_s"] == 1.0
    assert phases["partial_parse"].startswith("Unable to do partial parsing")
    assert phases["unfinished_node"] == "model.a.y"
    assert bench.log_phases("", start, start + 1.0)["parse_s"] is None


def test_parse_size(bench):
    assert bench.parse_size("demo").synthetic is False
    size = bench.parse_size("500x8000")
    assert (size.n_symbols, size.n_days) == (500, 8000)
    with pytest.raises(ValueError):
        bench.parse_size("500by8000")
    with pytest.raises(ValueError):
        bench.parse_size("10x100")  # shorter than the warm-up
    with pytest.raises(ValueError):
        bench.parse_list("baseline,nope", bench.CASES)


def _record(bench, size: str, wall: float, rss: float, started: str, ok: bool = True) -> dict:
    summary = bench.summarize_run_results(RUN_RESULTS, bench.stage_map(MANIFEST))
    inv = {
        "wall_s": wall,
        "peak_rss_mb": rss,
        "returncode": 0 if ok else 1,
        "results": summary,
        "phases": {"startup_s": 1.0, "parse_s": 2.0},
        "load_before": [0.7, 0.5, 0.4],
        "load_after": [1.1, 0.6, 0.4],
        "failed_nodes": [] if ok else ["model.allocator.allocator_risk_v1"],
    }
    case = {**bench.combine([inv]), "db_mb": 14.0}
    return {
        "size": size,
        "started_at": started,
        "command": "python benchmarks/run_benchmark.py",
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "ram_gb": 24.0,
            "os": "Linux",
            "python": "3.12",
            "versions": {"dbt-core": "1.11.0", "duckdb": "2.0.0"},
            "duckdb_default_threads": 2,
            "dbt_threads": 1,
        },
        "market": {
            "n_symbols": 20,
            "n_days": 8313,
            "rows": 166260,
            "seed": None,
            "start": "2005-01-03",
            "end": "2022-12-28",
        },
        "load_start": [0.7, 0.5, 0.4],
        "load_end": [1.1, 0.6, 0.4],
        "cases": {"baseline": case, "two-pass": case},
    }


def test_render_results_table(bench):
    old = _record(bench, "demo", 30.0, 300.0, "2026-01-01T10:00:00")
    new = _record(bench, "demo", 9.5, 310.0, "2026-01-02T10:00:00")
    big = _record(bench, "500x8000", 70.0, 5000.0, "2026-01-01T11:00:00")
    failed = _record(bench, "2000x5000", 5.0, 100.0, "2026-01-01T12:00:00", ok=False)
    text = bench.render_results([big, old, new, failed], notes="\nprofiling notes\n")
    assert "Test CPU, 2 cores; RAM 24.0 GB" in text
    two_pass = text.split("### two-pass")[1].split("###")[0]
    rows = [line for line in two_pass.splitlines() if line.startswith("| ")][1:]
    # newest record per size, sizes in benchmark order
    assert [row.split(" | ")[0] for row in rows[:3]] == ["| demo", "| 500x8000", "| 2000x5000"]
    assert "| 9.5 | 310 |" in rows[0] and "met (≤ 10 s)" in rows[0]
    assert "NOT met (70.0 s > 60 s; 5000 MB > 4096 MB)" in rows[1]
    assert "FAILED after 5.0" in rows[2] and "NOT met (failed)" in rows[2]
    assert "failed at: model.allocator.allocator_risk_v1" in two_pass
    assert "| 0.70→1.10 |" in rows[0]
    # the hand-written notes survive a regeneration
    assert bench.extract_notes(text).strip() == "profiling notes"


def test_target_status_only_where_a_target_applies(bench):
    ok = {"ok": True, "wall_s": 50.0, "peak_rss_mb": 3000.0}
    assert bench.target_status("500x8000", "two-pass", ok) == "met (≤ 60 s & ≤ 4 GB)"
    assert bench.target_status("500x8000", "baseline", ok) == ""
    assert bench.target_status("100x8000", "two-pass", ok) == ""
    assert bench.target_status("2000x5000", "baseline", ok) == "met (completes)"


def test_log_phases_from_info_level_log(bench):
    """The project writes its file log at info level: no 'Began running node'."""
    start = dt.datetime(2026, 1, 1, 10, 0, 0).timestamp()
    text = "\n".join(
        [
            "\x1b[0m10:00:02.000000 [info ] [MainThread]: Running with dbt=1.11.16",
            "\x1b[0m10:00:03.000000 [info ] [MainThread]: Found 46 models, 183 data tests",
            "\x1b[0m10:00:03.500000 [info ] [Thread-1 (]: 1 of 3 START sql table model "
            "main.stg_a ......... [RUN]",
            "\x1b[0m10:00:04.000000 [info ] [Thread-1 (]: 1 of 3 OK created sql table model "
            "main.stg_a ......... [OK in 0.50s]",
            "\x1b[0m10:00:04.100000 [info ] [Thread-1 (]: 2 of 3 START sql incremental model "
            "main.big ......... [RUN]",
        ]
    )
    phases = bench.log_phases(text, start, start + 9.0)
    assert phases["startup_s"] == 2.0
    assert phases["parse_s"] == 1.0
    assert phases["setup_s"] == 0.5
    assert phases["nodes_s"] is None  # killed before 'Finished running'
    assert phases["partial_parse"] == "no full-parse notice: partial parse"
    assert phases["unfinished_node"] == "sql incremental model main.big"


def test_the_slim_summary_renders_as_the_raw_records(bench, tmp_path):
    """results/summary.json replaces the raw records: RESULTS.md is rebuilt
    from it to the same text, and a raw file left in the folder is folded in."""
    records = [
        _record(bench, "demo", 9.5, 310.0, "2026-01-02T10:00:00"),
        _record(bench, "500x8000", 70.0, 5000.0, "2026-01-01T11:00:00"),
    ]
    raw = bench.render_results(records, notes="n")
    slim = [bench.slim_record(record) for record in records]
    assert bench.render_results(slim, notes="n") == raw
    # what it drops: all but the listed slowest nodes
    nodes = slim[0]["cases"]["two-pass"]["invocations"][0]["results"]["nodes"]
    assert 0 < len(nodes) <= bench.SLOWEST_KEPT
    bench.write_summary(tmp_path, slim[:1])
    (tmp_path / "20260101T110000-500x8000.json").write_text(bench.json.dumps(records[1]))
    loaded = bench.load_records(tmp_path)
    assert [r["size"] for r in loaded] == ["500x8000", "demo"]
    assert (
        bench.render_results(loaded, notes="n").split("### Slowest")[0]
        == raw.split("### Slowest")[0]
    )
