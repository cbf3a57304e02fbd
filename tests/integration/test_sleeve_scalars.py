"""Stage 6, sleeve-level scalars on the demo book (issue 21's done-when):
a sleeve scalar of 1 everywhere prices the unscaled book, and every sleeve
on the book's own targets prices the book-level scaled run, both to 1e-12,
through the per-sleeve pricing (int_exposure_sleeve_scaled_book)."""

from __future__ import annotations

import pytest

TOLERANCE = 1e-12
BOOK_COLUMNS = ("gross_return", "turnover", "transaction_cost", "net_return")


@pytest.fixture(scope="module")
def flat_run(allocator_project) -> str:
    return allocator_project.run("slv_flat")


@pytest.fixture(scope="module")
def book_run(allocator_project) -> str:
    allocator_project.run("pre")
    return allocator_project.run("slv_book")


def test_sleeve_scalars_of_one_price_the_unscaled_book(allocator_project, flat_run) -> None:
    scalars = allocator_project.query(
        "select count(*), min(sleeve_scalar_used), max(sleeve_scalar_used), count(distinct sleeve) "
        "from allocator_sleeve_scalars_daily where run_id = ?",
        [flat_run],
    )[0]
    assert scalars[0] > 0 and scalars[1] == scalars[2] == 1.0 and scalars[3] == 3
    gaps = allocator_project.query(
        "select count(*), count(u.date), "
        + ", ".join(f"max(abs(s.{c} - u.{c}))" for c in BOOK_COLUMNS)
        + ", max(abs(s.risk_scalar_used - 1.0)) "
        "from portfolio_returns_scaled as s "
        "left join portfolio_returns_unscaled as u on s.date = u.date and u.run_id = s.run_id "
        "where s.run_id = ?",
        [flat_run],
    )[0]
    sessions, matched, *differences = gaps
    assert sessions == matched > 4000
    assert max(differences) < TOLERANCE, dict(
        zip((*BOOK_COLUMNS, "scalar"), differences, strict=True)
    )


def test_sleeves_on_the_book_targets_price_the_book_level_scaled_run(
    allocator_project, book_run
) -> None:
    # one series per sleeve, each exactly the book's scalar (same recursion)
    series = allocator_project.query(
        "select count(*), count(b.date), max(abs(s.risk_scalar - b.risk_scalar)) "
        "from allocator_risk_v1_sleeve_scalars as s "
        "left join allocator_risk_v1 as b on s.date = b.date and b.run_id = s.run_id "
        "where s.run_id = ?",
        [book_run],
    )[0]
    assert series[0] == series[1] > 0 and series[2] == 0.0
    # delivered by the book scalar's rule, session by session
    delivered = allocator_project.query(
        "select count(*), count(d.date), max(abs(s.sleeve_scalar_used - d.risk_scalar_used)) "
        "from allocator_sleeve_scalars_daily as s "
        "left join allocator_scalars_daily as d on s.date = d.date and d.run_id = s.run_id "
        "where s.run_id = ?",
        [book_run],
    )[0]
    assert delivered[0] == delivered[1] > 0 and delivered[2] == 0.0
    assert (
        allocator_project.query(
            "select min(sleeve_scalar_used) from allocator_sleeve_scalars_daily where run_id = ?",
            [book_run],
        )[0][0]
        < 0.5
    )  # the book is really de-risked, so the comparison can fail
    gaps = allocator_project.query(
        "select count(*), count(b.date), "
        + ", ".join(f"max(abs(s.{c} - b.{c}))" for c in BOOK_COLUMNS)
        + ", max(abs(s.risk_scalar_used - b.risk_scalar_used)) "
        "from portfolio_returns_scaled as s "
        "left join portfolio_returns_scaled as b on s.date = b.date and b.run_id = 'pre' "
        "where s.run_id = ?",
        [book_run],
    )[0]
    sessions, matched, *differences = gaps
    assert sessions == matched > 4000
    assert max(differences) < TOLERANCE, dict(
        zip((*BOOK_COLUMNS, "scalar"), differences, strict=True)
    )


def test_the_sleeve_scalars_are_exported_beside_the_run_files(
    allocator_project, flat_run, tmp_path
) -> None:
    from allocator.exports import export_run

    with allocator_project.connect() as con:
        names = {path.name for path in export_run(con, flat_run, tmp_path)}
        rows = con.execute(
            "select count(*) from allocator_risk_v1_sleeve_scalars where run_id = ?", [flat_run]
        ).fetchone()[0]
    assert {
        "allocator_risk_v1_sleeve_scalars.csv",
        "allocator_risk_v1_sleeve_scalars_meta.json",
    } <= names
    lines = (tmp_path / "allocator_risk_v1_sleeve_scalars.csv").read_text().splitlines()
    assert lines[0].startswith("date,sleeve,risk_scalar,") and len(lines) == rows + 1 > 1


def test_sleeves_on_the_book_targets_scale_the_weights_as_the_book_scalar(
    allocator_project, book_run
) -> None:
    # cadence rebalance_lagged: a rebalance's first session holds its scalar
    gaps = allocator_project.query(
        "select count(*), count(b.symbol), max(abs(s.weight_scaled - b.weight_scaled)), "
        "max(abs(s.risk_scalar_used - b.risk_scalar_used)) "
        "from weights_scaled as s left join weights_scaled as b on b.run_id = 'pre' "
        "and s.rebalance_date = b.rebalance_date and s.symbol = b.symbol where s.run_id = ?",
        [book_run],
    )[0]
    assert gaps[0] == gaps[1] > 1000 and gaps[2] < TOLERANCE and gaps[3] < TOLERANCE


def test_the_sleeve_attribution_adds_up_to_the_governor(allocator_project, book_run) -> None:
    rows = {
        row[0]: row[1:]
        for row in allocator_project.query(
            "select sleeve, return_change, worst_drawdown_change, sharpe, max_drawdown "
            "from two_pass_sleeve_attribution where scaled_run_id = ?",
            [book_run],
        )
    }
    assert sorted(rows) == ["all", "core", "csmom", "trend"]
    governor = allocator_project.query(
        "select scaled_sharpe, scaled_max_drawdown, "
        "(select sum(s.gross_return - u.gross_return) from portfolio_returns_scaled as s "
        " inner join portfolio_returns_unscaled as u on s.date = u.date and u.run_id = 'base' "
        " where s.run_id = ?) "
        "from two_pass_comparison where scaled_run_id = ?",
        [book_run, book_run],
    )[0]
    everything = rows.pop("all")
    assert everything[2:] == pytest.approx(governor[:2], abs=1e-12)
    # the additive parts: the sleeves' return changes are the book's gross change
    assert sum(row[0] for row in rows.values()) == pytest.approx(governor[2], abs=1e-12)
    assert everything[0] == pytest.approx(governor[2], abs=1e-12)
    assert everything[1] > 0  # the governor lost less in the baseline's worst drawdown


def test_the_api_audits_sleeve_scalars_against_a_stored_baseline(
    allocator_project, tmp_path
) -> None:
    """allocator two-pass --baseline-run-id base [--sleeve-scalars book],
    through the API: with sleeves, pass 2 builds the whole run (a baseline
    publishes no sleeve weights), and every sleeve on the book's targets
    prices the same audit without sleeves (which reuses the baseline's
    layers) to 1e-12."""
    from allocator.api import execute_two_pass, settings
    from allocator.dbt_invoke import release_database

    from .conftest import PROJECT_DIR

    allocator_project.run("base")
    release_database()  # the session's in-process dbt holds the file open
    where = settings(PROJECT_DIR, allocator_project.db_path, tmp_path / "reports", tests=False)
    for scaled_run_id, sleeves in (("api_book", None), ("slv_api", "book")):
        ids = execute_two_pass(
            where,
            baseline_run_id="base",
            scaled_run_id=scaled_run_id,
            sleeve_scalars=sleeves,
            log=None,
        )
        assert ids.scaled_run_id == scaled_run_id
    gaps = allocator_project.query(
        "select count(*), count(b.date), "
        + ", ".join(f"max(abs(s.{c} - b.{c}))" for c in BOOK_COLUMNS)
        + ", min(s.risk_scalar_used) "
        "from portfolio_returns_scaled as s "
        "left join portfolio_returns_scaled as b on s.date = b.date and b.run_id = 'api_book' "
        "where s.run_id = 'slv_api'",
    )[0]
    sessions, matched, *differences, lowest_scalar = gaps
    assert sessions == matched > 4000 and max(differences) < TOLERANCE, differences
    assert lowest_scalar < 0.5  # really de-risked, so the comparison can fail
    assert (
        allocator_project.query(
            "select count(distinct sleeve) from allocator_risk_v1_sleeve_scalars "
            "where run_id = 'slv_api'"
        )[0][0]
        == 3
    )
