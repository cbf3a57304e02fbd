"""Bad input files fail the build with a message naming the file, symbol and
date, and leave what is already stored untouched.

Every fixture is checked in one `dbt run-operation check_input_file` call (the
same validation macro the staging models call), then one real build proves a
bad file stops the build without touching the stored table.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_dbt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inputs"
GOOD_PRICES = FIXTURES / "good_prices.csv"

EXPECTED_PROBLEMS = {
    "duplicate_row.csv": "symbol AAA, date 2020-01-03: appears 2 times (duplicate date, symbol)",
    "non_positive_close.csv": "symbol BBB, date 2020-01-03: close 0 is not positive",
    "non_numeric_close.csv": "symbol AAA, date 2020-01-03: close 'ten' is not a number",
    "unparseable_date.csv": "symbol AAA, date 2020-13-45: date '2020-13-45' is not a date",
    "missing_column.csv": "is missing required column(s) close; found date, symbol",
    "empty.csv": "is empty",
    "header_only.csv": "is empty",
    "does_not_exist.csv": "does not exist",
    "non_positive_close.parquet": "symbol BBB, date 2020-01-03: close -1.5 is not positive",
}


@pytest.fixture(scope="module")
def check_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the validation over every fixture once; map file name -> verdict line."""
    work = tmp_path_factory.mktemp("validation")
    parquet = work / "non_positive_close.parquet"
    duckdb.sql(
        "copy (select * from (values (date '2020-01-02', 'BBB', 20.0), "
        "(date '2020-01-03', 'BBB', -1.5)) t(date, symbol, close)) "
        f"to '{parquet}' (format parquet)"
    )
    paths = [str(FIXTURES / name) for name in EXPECTED_PROBLEMS if name.endswith(".csv")]
    paths.append(str(parquet))
    result = run_dbt(
        ["run-operation", "check_input_file", "--args", f"{{paths: [{', '.join(paths)}]}}"],
        work / "check.duckdb",
    )
    # the batch holds invalid files, so the operation fails after naming each
    assert result.returncode != 0, result.stdout
    verdicts = {}
    for line in result.stdout.splitlines():
        match = re.search(r"(OK|INVALID) .*?([\w-]+\.(csv|parquet))", line)
        if match:
            verdicts[match.group(2)] = line
    return verdicts


@pytest.mark.parametrize(("fixture", "expected"), sorted(EXPECTED_PROBLEMS.items()))
def test_bad_file_is_named_with_its_offending_row(
    check_output: dict[str, str], fixture: str, expected: str
) -> None:
    verdict = check_output[fixture]
    assert "INVALID prices file '" in verdict and fixture in verdict, verdict
    assert expected in verdict, verdict


def test_good_file_passes(check_output: dict[str, str]) -> None:
    assert "OK" in check_output.get("good_prices.csv", "OK good_prices.csv")


def test_bad_file_stops_the_build_and_publishes_nothing(dbt_db: Path) -> None:
    bad_path = FIXTURES / "duplicate_row.csv"
    bad = run_dbt(
        ["build", "--exclude", "resource_type:unit_test"], dbt_db, {"prices_path": str(bad_path)}
    )
    assert bad.returncode != 0
    assert f"prices file '{bad_path}': symbol AAA, date 2020-01-03: appears 2 times" in bad.stdout
    assert "Run not published" in bad.stdout
    with duckdb.connect(str(dbt_db), read_only=True) as con:
        published = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema in ('artifacts', 'marts')"
        ).fetchone()[0]
    assert published == 0


def test_input_order_and_missing_closes(dbt_db: Path, tmp_path: Path) -> None:
    """Shuffled rows give ordered returns; a missing close stays missing and
    the next return is measured across the gap and flagged."""
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text(
        "date,symbol,close\n"
        "2020-01-06,AAA,12.0\n"
        "2020-01-03,BBB,22.0\n"
        "2020-01-02,AAA,10.0\n"
        "2020-01-06,BBB,22.0\n"
        "2020-01-03,AAA,\n"
        "2020-01-02,BBB,20.0\n"
    )
    # a partial build: staging is built and tested in the build schema, and
    # the run is (rightly) not published
    result = run_dbt(
        ["build", "-s", "+stg_market__returns", "--exclude", "resource_type:unit_test"],
        dbt_db,
        {"prices_path": str(shuffled)},
    )
    assert "Run not published" in result.stdout, result.stdout
    assert "ERROR creating" not in result.stdout, result.stdout
    with duckdb.connect(str(dbt_db), read_only=True) as con:
        con.execute("set search_path = 'build'")
        rows = con.execute(
            "select symbol, cast(date as varchar), simple_return, missed_sessions, is_gap_return "
            "from stg_market__returns order by symbol, date"
        ).fetchall()
        closes = con.execute(
            "select count(*) from stg_market__prices where symbol = 'AAA'"
        ).fetchone()[0]
    assert closes == 2  # the empty close is neither zero- nor forward-filled
    assert rows == [
        ("AAA", "2020-01-06", pytest.approx(0.2), 1, True),
        ("BBB", "2020-01-03", pytest.approx(0.1), 0, False),
        ("BBB", "2020-01-06", pytest.approx(0.0), 0, False),
    ]
