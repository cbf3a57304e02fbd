"""The `allocator.<macro>` namespace of the project's models, for sqlfluff's
jinja templater (.sqlfluff: library_path = tests/lint).

sqlfluff loads macros/ itself but only under their bare names; the models
call them as dbt does, ``{{ allocator.book_metrics(...) }}``. This module is
loaded by sqlfluff as the library ``allocator`` (only in the linter's
process) and renders each call with the project's own macros
(python/allocator/sql_macros.py, loaded by path so the package is not
imported) and stand-ins for the parts of dbt's context a macro reads at
compile time: relations render as their names, vars as their defaults (or
their names), and ``execute`` is false, as during dbt's parse.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class _Anything:
    """A stand-in for dbt's objects (adapter, target, graph, ...): any
    attribute or call gives another; it renders as its dotted name."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> _Anything:
        return _Anything(f"{self._name}_{attribute}")

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    def __str__(self) -> str:
        return self._name

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False


class _Var:
    """dbt's ``var``: a var renders as its default (or its name); the
    project's macros also ask ``var.has_var``, and no var is set here."""

    def __call__(self, name: str, default: Any = None) -> Any:
        return name if default is None else default

    def has_var(self, name: str) -> bool:
        return False


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _library() -> Any:
    here = Path(__file__).parent
    module = _load("_allocator_sql_macros", ROOT / "python" / "allocator" / "sql_macros.py")
    context = {
        "ref": lambda *args, **kwargs: args[-1],
        "source": lambda source, table: f"{source}__{table}",
        "var": _Var(),
        "invocation_args_dict": {},
        "fromyaml": lambda text: {},
        "project_name": "allocator",
        "config": lambda *args, **kwargs: "",
        "this": "this_relation",
        "dbt": _load("_lint_dbt", here / "dbt.py"),
        "run_query": lambda *args, **kwargs: None,
        "log": lambda *args, **kwargs: "",
        "tojson": lambda value, **kwargs: str(value),
        "is_incremental": lambda: False,
        "env_var": lambda name, default="": default,
        "invocation_id": "invocation_id",
        "run_started_at": _load("_lint_run_started_at", here / "run_started_at.py"),
        **{
            name: _Anything(name)
            for name in ("adapter", "exceptions", "modules", "target", "flags", "graph", "model")
        },
    }
    return module.MacroLibrary(ROOT / "macros", extra_globals=context)


# sqlfluff executes this module afresh for every file it renders (twice);
# the macros compile once per process and are kept on sys.
if not hasattr(sys, "_allocator_lint_macros"):
    sys._allocator_lint_macros = _library()
_MACROS = sys._allocator_lint_macros


def __getattr__(name: str) -> Any:
    return getattr(_MACROS, name)
