"""`allocator tune`: sweep a grid of governor configurations over a stored
baseline (the dbt tuning stage, tag `tuning`), then write the chosen
configuration (a governor-config file `allocator run --governor-config`
reads), the tuning's summary and its HTML report to
<reports>/tuning/<tuning_id>/.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocator import database, dbt_invoke, progress, validate
from allocator.errors import BuildFailed, InputError
from allocator.tuning import OBJECTIVES, governor_document, governor_from_config_json
from allocator.tuning_report import load_tuning, timing_skill_counts, write_tuning_html

Emit = Callable[[str], None]


@dataclass(frozen=True)
class TuneRequest:
    """One tuning of one stored baseline."""

    baseline_run_id: str
    tuning_id: str
    grid_path: Path | None = None
    objective: str = "calmar"
    min_sharpe: float | None = None
    min_train_years: int | None = None
    output: Path | None = None

    def dbt_vars(self) -> dict[str, Any]:
        given = {
            "tuning_id": self.tuning_id,
            "tuning_baseline_run_id": self.baseline_run_id,
            "tuning_objective": self.objective,
            "tuning_grid_path": str(self.grid_path) if self.grid_path else None,
            "tuning_min_sharpe": self.min_sharpe,
            "tuning_min_train_years": self.min_train_years,
        }
        return {name: value for name, value in given.items() if value is not None}


def request(
    run_id: str,
    tuning_id: str | None = None,
    grid: str | os.PathLike | None = None,
    objective: str = "calmar",
    min_sharpe: float | None = None,
    walk_forward: int | None = None,
    output: str | os.PathLike | None = None,
) -> TuneRequest:
    """A checked tuning request (ids, objective, paths made absolute)."""
    validate.check_run_id(run_id)
    if objective not in OBJECTIVES:
        raise InputError(f"--objective {objective!r} is not valid: use {', '.join(OBJECTIVES)}")
    tuning_id = tuning_id or f"{run_id}_{objective}"
    validate.check_run_id(tuning_id, "--tuning-id")
    return TuneRequest(
        baseline_run_id=run_id,
        tuning_id=tuning_id,
        grid_path=Path(grid).resolve() if grid else None,
        objective=objective,
        min_sharpe=min_sharpe,
        min_train_years=walk_forward,
        output=Path(output).resolve() if output else None,
    )


def apply_command(baseline_run_id: str, governor_config: Path) -> str:
    """The command that audits a tuning's choice on its baseline's book."""
    return (
        f"allocator two-pass --baseline-run-id {shlex.quote(baseline_run_id)} "
        f"--governor-config {shlex.quote(str(governor_config))}"
    )


def check_baseline(settings: Any, run_id: str) -> None:
    """The baseline must be a stored run: one line naming the known ones if not."""
    with database.read_only(settings.db_path) as con:
        database.require_run(con, run_id, settings.db_path)


def chosen_document(
    summary: dict[str, Any], configurations: Any, config_json: str
) -> dict[str, Any]:
    """The governor-config file of a tuning's chosen configuration, with where it came from."""
    chosen = configurations[configurations["is_chosen"]].iloc[0].to_dict()
    return {
        **governor_document(governor_from_config_json(config_json), chosen),
        "chosen_by": {
            "tuning_id": summary["tuning_id"],
            "baseline_run_id": summary["baseline_run_id"],
            "config_id": int(chosen["config_id"]),
            "objective": summary["objective"],
            "is_default": bool(chosen["is_default"]),
        },
    }


def tune(settings: Any, request: TuneRequest, emit: Emit) -> Path:
    """Build and publish the tuning, then write its files; returns the governor-config path."""
    check_baseline(settings, request.baseline_run_id)
    database.check_writable(settings.db_path)
    started = time.perf_counter()
    emit(
        f"tune: dbt build --select tag:tuning tuning_id={request.tuning_id} "
        f"baseline={request.baseline_run_id} ..."
    )
    # the sweep and the controls report their configurations as they go
    with progress.step_reporting(emit):
        outcome = dbt_invoke.invoke(
            "build",
            settings.project_dir,
            request.dbt_vars(),
            settings.verbose,
            None,
            ("--select", "tag:tuning"),
        )
    if not outcome.success:
        details = "\n".join("  " + line for e in outcome.errors for line in e.splitlines())
        raise BuildFailed(
            f"tuning {request.tuning_id} failed: {outcome.describe()}\n{details}\n"
            f"Nothing was stored: every tuning and run in {settings.db_path} is as it was."
        )
    emit(f"tune: {outcome.describe()}")
    with database.read_only(settings.db_path) as con:
        summary, configurations, folds = load_tuning(con, request.tuning_id)
        (config_json,) = con.execute(
            "select config_json from marts.runs where run_id = ?", [request.baseline_run_id]
        ).fetchall()[0]
    folder = settings.reports_dir / "tuning" / request.tuning_id
    folder.mkdir(parents=True, exist_ok=True)
    output = request.output or folder / "governor_config.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(chosen_document(summary, configurations, config_json), indent=2) + "\n"
    )
    (folder / "tuning_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    report = write_tuning_html(folder / "tuning_report.html", summary, configurations, folds)
    emit(summary_text(summary))
    emit(f"timing_skill (against the controls (b) and (c)): {timing_skill_counts(configurations)}")
    emit(f"  governor config  {output}")
    emit(f"  report           {report}")
    emit(f"  ({time.perf_counter() - started:.1f} s)")
    emit("apply it (a new baseline under this governor, then the scaled run and the audit):")
    emit(f"  {apply_command(request.baseline_run_id, output)}")
    return output


def summary_text(summary: dict[str, Any]) -> str:
    """The lines `allocator tune` prints."""

    def pct(value: Any) -> str:
        return f"{float(value) * 100:6.2f}%"

    lines = [
        f"=== TUNING {summary['tuning_id']} of {summary['baseline_run_id']} ===",
        f"configurations {summary['configurations']}, admissible "
        f"{summary['admissible_configurations']}, "
        f"objective {summary['objective']}, chosen config {summary['chosen_config_id']}",
        f"out of sample {str(summary['oos_start'])[:10]} .. {str(summary['oos_end'])[:10]}, "
        f"{summary['folds']} yearly folds:",
        f"  {'book':<20}{'CAGR':>9}{'Sharpe':>8}{'MaxDD':>9}{'Calmar':>8}",
    ]
    for book in ("walk_forward", "in_sample_best", "defaults", "baseline_unscaled"):
        lines.append(
            f"  {book:<20}{pct(summary[f'{book}_oos_cagr']):>9}{summary[f'{book}_oos_sharpe']:8.2f}"
            f"{pct(summary[f'{book}_oos_max_drawdown']):>9}{summary[f'{book}_oos_calmar']:8.2f}"
        )
    lines.append(
        f"deflated Sharpe ratio {summary['deflated_sharpe']:.3f} "
        f"(of {summary['configurations']} tried), PBO {summary['pbo']:.3f} "
        f"(CSCV, {summary['pbo_splits']} blocks)"
    )
    return "\n".join(lines)
