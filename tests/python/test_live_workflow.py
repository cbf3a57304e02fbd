"""allocator.live_workflow: the desk's summary and alert lines and the
next_session_targets files, from hand-made target rows."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from allocator import live_workflow


def target_rows(**book: Any) -> list[dict[str, Any]]:
    """Two positions of a book whose next scalar is 0.7 after 1.0 today."""
    figures = {
        "run_id": "prod",
        "as_of_date": dt.date(2022, 12, 30),
        "next_session_date": dt.date(2023, 1, 2),
        "regime": "NORMAL",
        "regime_changed": False,
        "days_in_regime": 12,
        "target_rebalance_date": dt.date(2022, 12, 30),
        "rebalances_at_close": True,
        "scalar_decided_at": dt.date(2022, 12, 30),
        "risk_scalar": 0.7,
        "risk_scalar_today": 1.0,
        "risk_scalar_change": -0.3,
        "gross_exposure": 0.7,
        "gross_exposure_unscaled": 1.0,
        "gross_exposure_today": 1.0,
        **book,
    }
    positions = [
        ("AAA", 0.6, 0.42, 0.5, -0.08),
        ("BBB", 0.4, 0.28, 0.5, -0.22),
    ]
    return [
        {
            **figures,
            "symbol": symbol,
            "target_weight_unscaled": unscaled,
            "target_weight_scaled": scaled,
            "held_weight_scaled": held,
            "weight_change": change,
        }
        for symbol, unscaled, scaled, held, change in positions
    ]


def test_the_summary_line_says_date_regime_scalar_gross_and_what_changes() -> None:
    lines = live_workflow.summary_lines("prod", target_rows(risk_scalar_change=-0.01), 0.05)
    assert lines == [
        "2022-12-30 prod: NORMAL, scalar 0.700 (-0.010) for 2023-01-02, gross 0.70 "
        "(today 1.00), rebalance to 2022-12-30's weights: 2 of 2 positions change"
    ]


def test_a_regime_change_and_a_scalar_move_above_the_threshold_are_alerts() -> None:
    lines = live_workflow.summary_lines(
        "prod", target_rows(regime="STRESS", regime_changed=True), 0.05
    )
    assert lines[1:] == [
        "ALERT 2022-12-30 prod: regime changed to STRESS at the close",
        "ALERT 2022-12-30 prod: scalar moves 1.000 -> 0.700 (-0.300, more than 0.05)",
    ]
    # a change that rounds to zero is no move
    quiet = live_workflow.summary_lines("prod", target_rows(risk_scalar_change=-4e-4), 0.05)
    assert "(+0.000)" in quiet[0] and len(quiet) == 1
    # the same move under a wider threshold is no alert
    assert len(live_workflow.summary_lines("prod", target_rows(), 0.5)) == 1
    assert live_workflow.summary_lines("prod", [], 0.05) == [
        "prod: no targets (the run has no session)"
    ]


def test_targets_files_hold_one_row_per_symbol_and_the_book_once(tmp_path: Path) -> None:
    written = live_workflow.write_targets(target_rows(), tmp_path / "prod")
    assert [p.name for p in written] == [live_workflow.TARGETS_CSV, live_workflow.TARGETS_JSON]
    with written[0].open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["symbol"] for r in rows] == ["AAA", "BBB"]
    assert rows[0]["next_session_date"] == "2023-01-02"
    document = json.loads(written[1].read_text(encoding="utf-8"))
    assert document["risk_scalar"] == 0.7 and document["as_of_date"] == "2022-12-30"
    assert [p["symbol"] for p in document["positions"]] == ["AAA", "BBB"]
    assert not list((tmp_path / "prod").glob("*.tmp"))
