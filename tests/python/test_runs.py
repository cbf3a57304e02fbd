"""allocator.runs (listing and deleting stored runs) and the export's
manifest and seed layouts, on small hand-made databases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from allocator import exports, runs
from allocator.errors import AllocatorError

# --------------------------------------------------------------------------
# cadence, export state
# --------------------------------------------------------------------------


def test_cadence_is_a_dash_until_the_config_has_one() -> None:
    assert runs.cadence_of(None) == "-"
    assert runs.cadence_of("") == "-"
    assert runs.cadence_of("not json") == "-"
    assert runs.cadence_of('["a list"]') == "-"
    assert runs.cadence_of(json.dumps({"profile": {"rebalance_frequency": "monthly"}})) == "-"
    assert runs.cadence_of(json.dumps({"cadence": "rebalance"})) == "rebalance"
    assert runs.cadence_of(json.dumps({"allocator_v1": {"cadence": "daily"}})) == "daily"
    assert runs.cadence_of(json.dumps({"allocator_parameters": {"cadence": "B"}})) == "B"


REGISTRY = {"run_id": "r", "dbt_invocation_id": "inv-1", "config_hash": "h1"}


def _manifest(run_dir: Path, **changes: object) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    document = exports.manifest_document({**REGISTRY, **changes}, ["a.csv"])
    (run_dir / exports.MANIFEST_FILENAME).write_text(json.dumps(document))


def test_export_state_current_stale_missing(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r"
    assert runs.export_state(run_dir, REGISTRY) == "missing"
    run_dir.mkdir(parents=True)
    assert runs.export_state(run_dir, REGISTRY) == "stale"  # a folder without a manifest
    _manifest(run_dir)
    assert runs.export_state(run_dir, REGISTRY) == "current"
    # the run was rebuilt: a new invocation, or another configuration
    assert runs.export_state(run_dir, {**REGISTRY, "dbt_invocation_id": "inv-2"}) == "stale"
    assert runs.export_state(run_dir, {**REGISTRY, "config_hash": "h2"}) == "stale"
    _manifest(run_dir, run_id="other")
    assert runs.export_state(run_dir, REGISTRY) == "stale"
    (run_dir / exports.MANIFEST_FILENAME).write_text("{half a file")
    assert runs.export_state(run_dir, REGISTRY) == "stale"


def test_manifest_records_the_registry_values() -> None:
    document = exports.manifest_document(
        {**REGISTRY, "config_json": "{}", "created_at": dt.datetime(2026, 1, 1)}, ["b", "a"]
    )
    assert document == {
        "run_id": "r",
        "dbt_invocation_id": "inv-1",
        "config_hash": "h1",
        "files": ["a", "b"],
    }


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------


def _stored(run_id: str, **changes: object) -> runs.StoredRun:
    values = {
        "run_id": run_id,
        "kind": "baseline",
        "profile": "core_v1",
        "start": "2005-01-03",
        "end": "2022-12-28",
        "mode": "off",
        "cadence": "-",
        "created": "2026-12-01 15:18",
        "cagr": 0.08321,
        "ann_vol": 0.1105,
        "sharpe": 0.7812,
        "max_drawdown": -0.19134,
        "comparison": "-",
        "exported": "current",
    }
    return runs.StoredRun(**{**values, **changes})


def test_table_is_aligned_with_numbers_right_and_blanks_as_dashes() -> None:
    table = runs.format_table(
        [
            _stored("demo_base"),
            _stored(
                "demo_scaled",
                kind="scaled",
                mode="precomputed",
                cagr=None,
                sharpe=-1.5,
                comparison="stale",
                exported="missing",
                live="2022-12-28",
            ),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == list(runs.COLUMNS)
    assert lines[1].split() == [
        "demo_base", "baseline", "core_v1", "2005-01-03..2022-12-28", "off", "-",
        "2026-12-01", "15:18", "8.32%", "11.05%", "0.78", "-19.13%", "-", "current", "-", "-",
    ]  # fmt: skip
    assert lines[2].split()[8:] == [
        "-", "11.05%", "-1.50", "-19.13%", "stale", "missing", "2022-12-28", "-",
    ]  # fmt: skip
    # every column starts at the same offset on every line
    for name in ("kind", "window", "comparison", "files"):
        start = lines[0].index(name)
        assert all(line[start - 2 : start] == "  " for line in lines), name
    # numbers end at their header's right edge
    end = lines[0].index("CAGR") + len("CAGR")
    assert lines[1][:end].endswith("8.32%") and lines[2][:end].endswith("-")
    assert not any(line.endswith(" ") for line in lines)


def test_empty_table_says_how_to_build_a_run() -> None:
    assert "no runs stored" in runs.format_table([])
    assert json.loads(runs.runs_json([])) == []


def test_json_keeps_metrics_as_numbers() -> None:
    [document] = json.loads(runs.runs_json([_stored("r")]))
    assert document["cagr"] == 0.08321 and document["exported"] == "current"
    assert list(document) == [f.name for f in runs.StoredRun.__dataclass_fields__.values()]


# --------------------------------------------------------------------------
# a small database of published runs
# --------------------------------------------------------------------------


def _database(path: Path) -> Path:
    """marts.runs (b and its scaled runs s1, s2; a file-scaled run f),
    run_metrics, one artifacts layer, one two-pass mart."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema artifacts; create schema build")
    con.execute(
        """
        create table marts.runs as select * from (values
            ('b', 'baseline', 'core_v1', date '2021-01-06', date '2021-01-11', 'off',
             null, null, null, '{"cadence": null}', 'hb', 'ib', null, timestamp '2026-01-01 10:00'),
            ('s1', 'scaled', 'core_v1', date '2021-01-06', date '2021-01-11', 'precomputed',
             'b', 'run', 'b', '{}', 'hs1', 'is1', 'current', timestamp '2026-01-01 10:01'),
            ('s2', 'scaled', 'core_v1', date '2021-01-06', date '2021-01-11', 'precomputed',
             'b', 'run', null, '{}', 'hs2', 'is2', 'stale', timestamp '2026-01-01 10:02'),
            ('f', 'scaled', 'core_v1', date '2021-01-06', date '2021-01-11', 'precomputed',
             'x.csv', 'file', null, '{}', 'hf', 'if', 'current', timestamp '2026-01-01 10:03')
        ) t(run_id, run_kind, strategy_profile, start_date, end_date, allocator_mode,
            precomputed_source, precomputed_source_kind, unscaled_layers_from_run_id,
            config_json, config_hash, dbt_invocation_id, comparison_status, created_at)
        """
    )
    con.execute(
        "create table marts.run_metrics as select run_id, 0.1 as cagr, 0.2 as ann_vol, "
        "0.5 as sharpe, -0.1 as max_drawdown from marts.runs where run_id <> 'f'"
    )
    con.execute(
        "create table artifacts.weights_raw as select run_id, unnest([1, 2, 3]) as weight "
        "from marts.runs"
    )
    con.execute(
        "create table marts.two_pass_metrics as select run_id as scaled_run_id, "
        "'b' as baseline_run_id, 0.1 as value from marts.runs where run_kind = 'scaled'"
    )
    # not published: never touched
    con.execute("create table build.weights_raw as select * from artifacts.weights_raw")
    con.close()
    return path


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            table: con.execute(f"select count(*) from {table}").fetchone()[0]
            for table in (
                "marts.runs",
                "marts.run_metrics",
                "artifacts.weights_raw",
                "marts.two_pass_metrics",
                "build.weights_raw",
            )
        }


def test_list_runs_joins_metrics_and_export_state(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    _manifest(
        tmp_path / "reports" / "runs" / "b", dbt_invocation_id="ib", config_hash="hb", run_id="b"
    )
    (tmp_path / "reports" / "runs" / "s1").mkdir()
    with duckdb.connect(str(db), read_only=True) as con:
        listed = runs.list_runs(con, tmp_path / "reports")
    assert [r.run_id for r in listed] == ["b", "s1", "s2", "f"]  # oldest first
    assert [r.exported for r in listed] == ["current", "stale", "missing", "missing"]
    assert listed[0].cadence == "-" and listed[0].comparison == "-"
    assert listed[0].start == "2021-01-06" and listed[0].created == "2026-01-01 10:00"
    assert (listed[1].cagr, listed[1].sharpe) == (0.1, 0.5)
    assert listed[3].cagr is None  # no metrics row: shown as "-"


def test_scaled_dependants_are_the_runs_built_on_a_baseline(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        assert runs.scaled_dependants(con, "b") == ["s1", "s2"]
        assert runs.scaled_dependants(con, "s1") == []
        assert runs.scaled_dependants(con, "x.csv") == []  # a file source is no run
        tables = runs.published_tables(con)
    assert tables == [
        ("artifacts", "weights_raw", "run_id"),
        ("marts", "run_metrics", "run_id"),
        ("marts", "runs", "run_id"),
        ("marts", "two_pass_metrics", "scaled_run_id"),
    ]


def test_refusal_names_the_scaled_runs() -> None:
    assert runs.refusal_message("b", ["s"]) == (
        "run 'b' is the baseline of the stored scaled run s: delete it first, "
        "or add --with-dependents to delete it with 'b'"
    )
    assert runs.refusal_message("b", ["s1", "s2"]) == (
        "run 'b' is the baseline of the stored scaled runs s1, s2: delete them first, "
        "or add --with-dependents to delete them with 'b'"
    )


def test_delete_refuses_a_used_baseline_and_changes_nothing(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    folder = tmp_path / "reports" / "runs" / "b"
    folder.mkdir(parents=True)
    before = _counts(db)
    with pytest.raises(AllocatorError, match="baseline of the stored scaled runs s1, s2"):
        runs.delete_run(db, tmp_path / "reports", "b")
    assert _counts(db) == before and folder.is_dir()


def test_delete_of_an_unknown_run_lists_the_known_ones(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    with pytest.raises(AllocatorError, match="known run ids: b, f, s1, s2"):
        runs.delete_run(db, tmp_path / "reports", "nope")
    with pytest.raises(AllocatorError, match="does not exist"):
        runs.delete_run(tmp_path / "none.duckdb", tmp_path / "reports", "b")


def test_delete_with_scaled_removes_every_row_and_folder(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    reports = tmp_path / "reports"
    for run_id in ("b", "s1", "f"):
        (reports / "runs" / run_id).mkdir(parents=True)
        (reports / "runs" / run_id / "x.csv").write_text("a\n")
    deletion = runs.delete_run(db, reports, "b", with_scaled=True)
    assert deletion.run_ids == ("b", "s1", "s2")
    # runs 3 + metrics 3 + weights 9 + two-pass 2
    assert (deletion.rows, deletion.tables) == (17, 4)
    assert deletion.folders == (reports / "runs" / "b", reports / "runs" / "s1")
    assert _counts(db) == {
        "marts.runs": 1,
        "marts.run_metrics": 0,
        "artifacts.weights_raw": 3,
        "marts.two_pass_metrics": 1,
        "build.weights_raw": 12,
    }
    assert sorted(p.name for p in (reports / "runs").iterdir()) == ["f"]
    text = runs.deletion_text(deletion, db)
    assert text.splitlines()[0] == (
        f"deleted run 'b' and its scaled run(s) s1, s2: 17 rows from 4 tables of {db} "
        "(one transaction)"
    )
    assert text.splitlines()[1:] == [
        f"removed {reports / 'runs' / 'b'}",
        f"removed {reports / 'runs' / 's1'}",
    ]


def test_delete_rows_is_one_transaction(tmp_path: Path) -> None:
    """A failure after some tables were emptied leaves every row in place."""
    db = _database(tmp_path / "r.duckdb")
    before = _counts(db)

    class FailingOnTwoPass:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con = con

        def execute(self, sql: str, parameters: object = None):
            if sql.startswith("delete") and "two_pass_metrics" in sql:
                raise duckdb.IOException("disk full")
            return self.con.execute(sql, parameters) if parameters else self.con.execute(sql)

    con = duckdb.connect(str(db))
    with pytest.raises(duckdb.IOException, match="disk full"):
        runs.delete_rows(FailingOnTwoPass(con), ["s1"])
    con.close()
    assert _counts(db) == before


def test_delete_reaches_sql_only_as_a_parameter(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    before = _counts(db)
    con = duckdb.connect(str(db))
    rows, tables = runs.delete_rows(con, ["x' or '1'='1"])
    con.close()
    assert (rows, tables) == (0, 0)
    assert _counts(db) == before


# --------------------------------------------------------------------------
# the seeds' layouts of exported files
# --------------------------------------------------------------------------


def test_meta_lists_missing_features_with_reasons_beside() -> None:
    document = exports.seed_meta_layout(
        {
            "run_id": "r",
            "features_present": ["port_rvol_20d"],
            "features_missing": {
                "trend_breadth_20d": "no trend sleeve in the portfolio",
                "sleeve_concentration_60d": "single sleeve",
            },
            "row_count": 4,
        }
    )
    assert list(document) == [
        "run_id",
        "features_present",
        "features_missing",
        "features_missing_reasons",
        "row_count",
    ]
    assert document["features_missing"] == ["trend_breadth_20d", "sleeve_concentration_60d"]
    assert document["features_missing_reasons"]["trend_breadth_20d"] == (
        "no trend sleeve in the portfolio"
    )
    empty = exports.seed_meta_layout({"features_missing": {}})
    assert empty == {"features_missing": [], "features_missing_reasons": {}}


def test_state_file_leaves_out_the_features_a_run_cannot_compute() -> None:
    spec = next(s for s in exports.CSV_EXPORTS if s.filename == "allocator_state_v1.csv")
    columns = ["run_id", "date", "port_rvol_20d", "trend_breadth_20d", "is_ready"]
    assert exports.export_columns(spec, columns, ["trend_breadth_20d"]) == [
        "date",
        "port_rvol_20d",
        "is_ready",
    ]
    con = duckdb.connect()
    con.execute(
        "create table allocator_state_v1_meta as select 'r' as run_id, "
        """'{"trend_breadth_20d": "no trend sleeve"}' as features_missing"""
    )
    assert exports.missing_features(con, "r") == ["trend_breadth_20d"]
    assert exports.missing_features(con, "other") == []


def test_precomputed_meta_counts_matched_and_filled_rebalances() -> None:
    con = duckdb.connect()
    con.execute(
        "create table allocator_scalars_at_rebalances as select 's' as run_id, "
        "date '2021-01-01' + cast(i as integer) as rebalance_date, "
        "i = 0 as is_missing_filled from range(5) t(i)"
    )
    run = {
        "run_id": "s",
        "allocator_mode": "precomputed",
        "precomputed_source": "b",
        "precomputed_source_kind": "run",
        "config_hash": "h",
        "config_json": json.dumps(
            {
                "allocator_v1": {
                    "apply_missing_scalar_as": 1.0,
                    "precomputed_scalar_filename": "allocator_risk_v1_applied.csv",
                }
            }
        ),
    }
    meta = exports.precomputed_meta(con, run)
    assert meta == {
        "run_id": "s",
        "mode": "precomputed",
        "source": "b",
        "source_kind": "run",
        "precomputed_run_id": "b",
        "precomputed_scalar_filename": "allocator_risk_v1_applied.csv",
        "rebalances": 5,
        "matched": 4,
        "missing_filled": 1,
        "apply_missing_scalar_as": 1.0,
        "config_hash": "h",
    }


def test_a_scalar_file_that_is_gone_is_named(tmp_path: Path) -> None:
    run = {"run_id": "f", "precomputed_source_kind": "file", "precomputed_source": "gone.csv"}
    with pytest.raises(AllocatorError, match="loaded its scalars from gone.csv, which is gone"):
        exports.source_scalars_query(run, tmp_path)
    (tmp_path / "here.csv").write_text("rebalance_date,risk_scalar_applied\n")
    path, parameters = exports.source_scalars_query(
        {**run, "precomputed_source": "here.csv"}, tmp_path
    )
    assert (path, parameters) == (str(tmp_path / "here.csv"), [])
    query, parameters = exports.source_scalars_query(
        {**run, "precomputed_source_kind": "run", "precomputed_source": "b'"}, tmp_path
    )
    assert parameters == ["b'"] and "b'" not in query


def test_delete_rewrites_the_mart_snapshots_readers_use(tmp_path: Path) -> None:
    db = _database(tmp_path / "r.duckdb")
    reports = tmp_path / "reports"
    # no snapshots written yet: none are started by a delete
    runs.delete_run(db, reports, "s2")
    assert not (reports / "marts").exists()
    (reports / "marts").mkdir(parents=True)
    deletion = runs.delete_run(db, reports, "b", with_scaled=True)
    assert sorted(p.name for p in deletion.snapshots) == [
        "run_metrics.parquet",
        "runs.parquet",
        "two_pass_metrics.parquet",
    ]
    stored = duckdb.sql(f"select run_id from '{reports / 'marts' / 'runs.parquet'}'").fetchall()
    assert stored == [("f",)]
    assert runs.deletion_text(deletion, db).splitlines()[-1] == (
        f"snapshots: 3 marts rewritten as Parquet in {reports / 'marts'}"
    )


def test_delete_names_another_process_holding_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    db = _database(tmp_path / "r.duckdb")
    hold = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(db)!r})\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("ALLOCATOR_LOCK_WAIT", "0.3")
        with pytest.raises(AllocatorError, match=f"locked by another process \\(pid {holder.pid}"):
            runs.delete_run(db, tmp_path / "reports", "s1")
    finally:
        holder.communicate("\n", timeout=30)
    assert _counts(db)["marts.runs"] == 4
