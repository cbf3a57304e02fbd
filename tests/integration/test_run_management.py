"""`allocator runs`, `allocator delete` and the seeds' precomputed-mode
files, on the tiny book: a baseline, a scaled run built on it (plain dbt
two-pass, reading the baseline's layers) and a scaled run whose scalars come
from the baseline's exported file.

The runs are built once per module; the tests that delete work on copies
of the database and the reports folder.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from allocator import cli
from tests.conftest import InProcessDbt, tiny_vars

# a: the session's tiny book (tests/conftest.py), built and tested once
BASE, SCALED, FROM_FILE = "a", "s", "f"
SEED_FILES = (
    "allocator_risk_v1_applied_source.csv",
    "allocator_risk_v1_applied_used.csv",
    "allocator_precomputed_meta.json",
)


@dataclass(frozen=True)
class Book:
    db: Path
    reports: Path


def _cli(args: list[str], book: Book, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:
    """Run the CLI in this process on ``book``; (exit code, stdout + stderr)."""
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(book.db))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(book.reports))
    capsys.readouterr()
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _build(dbt: InProcessDbt, run_id: str, exclude: tuple[str, ...] = (), **overrides) -> None:
    dbt.build(("--exclude", *exclude) if exclude else (), tiny_vars(run_id, **overrides))


@pytest.fixture(scope="module")
def built(tiny_book: InProcessDbt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Book]:
    """a (baseline, a copy of the session's tiny book), s (scalars and layers
    from a), f (scalars from a's exported file); a exported, s and f not yet."""
    root = tmp_path_factory.mktemp("run_management")
    dbt = tiny_book.copy(root)
    book = Book(dbt.db_path, root / "reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALLOCATOR_DUCKDB_PATH", str(book.db))
        patch.setenv("ALLOCATOR_REPORTS_DIR", str(book.reports))
        assert cli.main(["export", "--run-id", BASE]) == 0
    # the scaled runs' data tests check their own books; dbt's unit tests
    # check code on fixtures, which a's build ran on the same code
    _build(
        dbt,
        SCALED,
        exclude=("tag:unscaled", "resource_type:unit_test"),
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": BASE},
        reuse_baseline_layers=True,
    )
    scalar_file = book.reports / "runs" / BASE / "allocator_risk_v1_applied.csv"
    kept = root / "a_scalars.csv"  # outlives the deletion of a's folder
    shutil.copy(scalar_file, kept)
    _build(
        dbt,
        FROM_FILE,
        exclude=("resource_type:unit_test",),
        allocator_v1={
            "enabled": True,
            "mode": "precomputed",
            "precomputed_scalar_filename": str(kept),
        },
    )
    yield book


@pytest.fixture
def book(built: Book, tmp_path: Path) -> Book:
    """A copy of the built runs this test may change."""
    copy = Book(tmp_path / built.db.name, tmp_path / "reports")
    shutil.copy(built.db, copy.db)
    if built.reports.exists():
        shutil.copytree(built.reports, copy.reports)
    return copy


def _rows_of(db: Path, run_ids: set[str]) -> dict[str, int]:
    """Rows of these runs in every published table (run_id or scaled_run_id)."""
    counts = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name, list(column_name) from information_schema.columns "
            "where table_schema in ('marts', 'artifacts') group by all"
        ).fetchall()
        for schema, table, columns in tables:
            key = "run_id" if "run_id" in columns else "scaled_run_id"
            assert key in columns, table
            placeholders = ", ".join("?" for _ in run_ids)
            counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from {schema}.{table} where {key} in ({placeholders})",
                sorted(run_ids),
            ).fetchone()[0]
    return counts


def test_runs_lists_every_run_and_whether_its_files_are_current(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, out = _cli(["runs"], book, monkeypatch, capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == [
        "run_id", "kind", "profile", "window", "mode", "cadence", "created",
        "CAGR", "vol", "Sharpe", "MaxDD", "comparison", "files", "live", "inputs",
    ]  # fmt: skip
    # the last column lists input files, comma and space apart: cut it off
    by_id = {line.split()[0]: re.sub(r"(, \S+)*$", "", line).split()[:-1] for line in lines[1:]}
    assert set(by_id) == {BASE, SCALED, FROM_FILE}
    assert by_id[BASE][1:6] == [
        "baseline",
        "core_v1",
        "2021-01-06..2021-01-11",
        "off",
        "daily",  # the default calibration's
    ]
    assert by_id[SCALED][1] == "scaled" and by_id[SCALED][4] == "precomputed"
    # ... comparison, files, live (none of these runs is live)
    assert [by_id[r][-2:] for r in (BASE, SCALED, FROM_FILE)] == [
        ["current", "-"],
        ["missing", "-"],
        ["missing", "-"],
    ]
    assert by_id[SCALED][-3] == "current"  # comparison status

    for run_id in (SCALED, FROM_FILE):
        assert _cli(["export", "--run-id", run_id], book, monkeypatch, capsys)[0] == 0
    code, out = _cli(["runs", "--json"], book, monkeypatch, capsys)
    assert code == 0, out
    listed = {run["run_id"]: run for run in json.loads(out)}
    assert {run_id: run["exported"] for run_id, run in listed.items()} == {
        BASE: "current",
        SCALED: "current",
        FROM_FILE: "current",
    }
    with duckdb.connect(str(book.db), read_only=True) as con:
        cagr, sharpe = con.execute(
            "select cagr, sharpe from marts.run_metrics where run_id = ?", [SCALED]
        ).fetchone()
    assert listed[SCALED]["cagr"] == cagr and listed[SCALED]["sharpe"] == sharpe
    assert f"{cagr * 100:.2f}%" in by_id[SCALED]

    # another manifest than the registry row: stale
    manifest = book.reports / "runs" / SCALED / "export_manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "config_hash": "old"}))
    listed = {
        run["run_id"]: run
        for run in json.loads(_cli(["runs", "--json"], book, monkeypatch, capsys)[1])
    }
    assert listed[SCALED]["exported"] == "stale"


def test_delete_refuses_a_baseline_its_scaled_runs_use(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    before = _rows_of(book.db, {BASE, SCALED})
    code, out = _cli(["delete", "--run-id", BASE], book, monkeypatch, capsys)
    assert code == 1
    assert f"run '{BASE}' is the baseline of the stored scaled run {SCALED}" in out
    assert "--with-dependents" in out
    assert _rows_of(book.db, {BASE, SCALED}) == before
    assert (book.reports / "runs" / BASE).is_dir()

    code, out = _cli(["delete", "--run-id", "nope"], book, monkeypatch, capsys)
    assert code == 1
    assert f"known run ids: {BASE}, {FROM_FILE}, {SCALED}" in out


def test_delete_with_scaled_removes_both_runs_everywhere(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert _cli(["export", "--run-id", SCALED], book, monkeypatch, capsys)[0] == 0
    before = _rows_of(book.db, {BASE, SCALED})
    kept = _rows_of(book.db, {FROM_FILE})
    assert before["marts.two_pass_comparison"] == 1 and before["marts.runs"] == 2

    code, out = _cli(["delete", "--run-id", BASE, "--with-scaled"], book, monkeypatch, capsys)
    assert code == 0, out
    assert (
        f"deleted run '{BASE}' and its scaled run(s) {SCALED}: {sum(before.values())} rows" in out
    )
    assert set(_rows_of(book.db, {BASE, SCALED}).values()) == {0}
    assert _rows_of(book.db, {FROM_FILE}) == kept  # another run is untouched
    assert not (book.reports / "runs" / BASE).exists()
    assert not (book.reports / "runs" / SCALED).exists()
    code, out = _cli(["runs"], book, monkeypatch, capsys)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [FROM_FILE]

    # the scaled run alone, no baseline in the way
    code, out = _cli(["delete", "--run-id", FROM_FILE], book, monkeypatch, capsys)
    assert code == 0, out
    assert set(_rows_of(book.db, {FROM_FILE}).values()) == {0}


def test_precomputed_runs_export_the_seed_files(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for run_id in (SCALED, FROM_FILE):
        assert _cli(["export", "--run-id", run_id], book, monkeypatch, capsys)[0] == 0
    base_dir = book.reports / "runs" / BASE
    assert not [name for name in SEED_FILES if (base_dir / name).exists()]  # not precomputed
    applied = pd.read_csv(base_dir / "allocator_risk_v1_applied.csv")
    with duckdb.connect(str(book.db), read_only=True) as con:
        used = con.execute(
            "select cast(rebalance_date as varchar) as rebalance_date, risk_scalar_used, "
            "is_missing_filled from artifacts.allocator_scalars_at_rebalances "
            "where run_id = ? order by 1",
            [SCALED],
        ).df()
    for run_id, kind in ((SCALED, "run"), (FROM_FILE, "file")):
        run_dir = book.reports / "runs" / run_id
        loaded = pd.read_csv(run_dir / "allocator_risk_v1_applied_source.csv")
        assert list(loaded.columns) == ["rebalance_date", "risk_scalar_applied"]
        assert (
            loaded.values.tolist()
            == applied[["rebalance_date", "risk_scalar_applied"]].values.tolist()
        )
        applied_used = pd.read_csv(run_dir / "allocator_risk_v1_applied_used.csv")
        assert list(applied_used.columns) == ["rebalance_date", "risk_scalar_used"]
        assert applied_used["rebalance_date"].tolist() == used["rebalance_date"].tolist()
        assert applied_used["risk_scalar_used"].tolist() == used["risk_scalar_used"].tolist()
        meta = json.loads((run_dir / "allocator_precomputed_meta.json").read_text())
        assert meta["mode"] == "precomputed"
        assert meta["source_kind"] == kind
        assert meta["rebalances"] == len(used)
        assert meta["matched"] + meta["missing_filled"] == len(used)
        assert meta["missing_filled"] == int(used["is_missing_filled"].sum())
        assert meta["apply_missing_scalar_as"] == 1.0
        if kind == "run":
            assert meta["source"] == BASE and meta["precomputed_run_id"] == BASE
        else:
            assert Path(meta["source"]).name == "a_scalars.csv"


def test_meta_files_list_missing_features_and_the_state_file_leaves_them_out(
    built: Book,
) -> None:
    run_dir = built.reports / "runs" / BASE
    state_meta = json.loads((run_dir / "allocator_state_v1_meta.json").read_text())
    # the tiny book: own weights, one sleeve, no trend sleeve
    assert state_meta["features_missing"] == ["trend_breadth_20d", "sleeve_concentration_60d"]
    assert set(state_meta["features_missing_reasons"]) == set(state_meta["features_missing"])
    header = list(pd.read_csv(run_dir / "allocator_state_v1.csv", nrows=0).columns)
    assert header[0] == "date"
    assert not set(state_meta["features_missing"]) & set(header)
    assert set(state_meta["features_present"]) <= set(header)
    for name in (
        "allocator_regime_v1_meta.json",
        "allocator_risk_v1_meta.json",
        "allocator_risk_v1_applied_meta.json",
    ):
        meta = json.loads((run_dir / name).read_text())
        assert isinstance(meta["features_missing"], list), name
        assert isinstance(meta["features_missing_reasons"], dict), name
        assert set(meta["features_missing_reasons"]) == set(meta["features_missing"]), name
    manifest = json.loads((run_dir / "export_manifest.json").read_text())
    with duckdb.connect(str(built.db), read_only=True) as con:
        registry = con.execute(
            "select dbt_invocation_id, config_hash from marts.runs where run_id = ?", [BASE]
        ).fetchone()
    assert (manifest["dbt_invocation_id"], manifest["config_hash"]) == registry
