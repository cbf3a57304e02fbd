"""Every dbt unit test runs, and passes, in the suite.

The suite's builds leave dbt's unit tests out (tests/conftest.py) but the
tiny book's (fixture ``tiny_book``), which runs all of them once; this test
fails when a unit test is added that the tiny book's build does not run
(disabled, excluded or on a model it does not build) or when one fails.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import PROJECT_DIR, TinyBook


def declared_unit_tests() -> set[str]:
    """The unique ids of the unit tests in the models' YAML files, as dbt names them."""
    ids: set[str] = set()
    for path in sorted(Path(PROJECT_DIR, "models").glob("**/*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for test in document.get("unit_tests") or []:
            ids.add(f"unit_test.allocator.{test['model']}.{test['name']}")
    return ids


def test_every_dbt_unit_test_passes_once_per_session(tiny_book: TinyBook) -> None:
    declared = declared_unit_tests()
    ran = {
        result.node.unique_id: str(getattr(result.status, "value", result.status))
        for result in tiny_book.results
        if result.node.resource_type == "unit_test"
    }
    assert declared, "no unit tests found in models/**/*.yml"
    assert sorted(declared - ran.keys()) == []
    assert {uid: status for uid, status in ran.items() if status != "pass"} == {}
    assert ran.keys() == declared
