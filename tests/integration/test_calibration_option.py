"""`--calibration NAME` end to end (issue 21): a run built with it records
that calibration in its stored configuration, its regime and risk meta and
its exported meta files; the same book without it records the default."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from allocator import cli, run_config
from tests.conftest import FIXTURE_INPUTS

TINY_BOOK = [
    "--prices",
    str(FIXTURE_INPUTS / "tiny_prices.csv"),
    "--weights",
    str(FIXTURE_INPUTS / "tiny_weights.csv"),
    "--benchmark",
    "none",
    "--start",
    "2021-01-06",
    "--end",
    "2021-01-11",
    "--no-tests",
]
META_TABLES = ("allocator_regime_v1_meta", "allocator_risk_v1_meta")


def _recorded(db: Path, reports: Path, run_id: str) -> tuple[str, ...]:
    """The calibration as the registry, the two meta tables and the exported
    meta files record it."""
    with duckdb.connect(str(db), read_only=True) as con:
        (config,) = con.execute(
            "select config_json from marts.runs where run_id = ?", [run_id]
        ).fetchone()
        stored = [
            con.execute(
                f"select parameters from artifacts.{table} where run_id = ?", [run_id]
            ).fetchone()[0]
            for table in META_TABLES
        ]
    exported = [
        (reports / "runs" / run_id / f"{table}.json").read_text(encoding="utf-8")
        for table in META_TABLES
    ]
    return (
        json.loads(config)["regime_calibration"]["name"],
        *(json.loads(parameters)["calibration"] for parameters in stored),
        *(json.loads(text)["parameters"]["calibration"] for text in exported),
    )


def test_a_run_built_with_a_calibration_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db, reports = tmp_path / "cal.duckdb", tmp_path / "reports"
    monkeypatch.setenv("ALLOCATOR_DUCKDB_PATH", str(db))
    monkeypatch.setenv("ALLOCATOR_REPORTS_DIR", str(reports))
    for run_id, extra in (("named", ["--calibration", "scale_free_v1"]), ("default", [])):
        code = cli.main(["run", *TINY_BOOK, "--run-id", run_id, *extra])
        captured = capsys.readouterr()
        assert code == 0, captured.out[-2000:] + captured.err[-2000:]
        assert "Calibration: " in captured.out
    assert _recorded(db, reports, "named") == ("scale_free_v1",) * 5
    assert run_config.DEFAULT_CALIBRATION != "scale_free_v1"
    assert _recorded(db, reports, "default") == (run_config.DEFAULT_CALIBRATION,) * 5
