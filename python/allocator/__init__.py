"""Allocator v1: SQL-first portfolio risk allocator.

The Python API (allocator.api; the `allocator` CLI is a thin layer over it)::

    import allocator
    audit = allocator.two_pass(prices=closes)   # a path or a DataFrame, wide or long
    audit.metrics, audit.controls, audit.regimes
    audit.report()                              # the HTML report's path

Errors are :class:`AllocatorError` and its subclasses (allocator.errors).
"""

import types

from allocator import api
from allocator import runs as _runs_module
from allocator import tune as _tune_module
from allocator.api import (
    Comparison,
    InputCheck,
    Run,
    Tuning,
    TwoPass,
    check,
    compare,
    delete,
    export,
    load,
    load_tuning,
    regime_report,
    run,
    settings,
    snapshot,
    two_pass,
)
from allocator.errors import AllocatorError, BuildFailed, DatabaseLocked, InputError, RunNotFound


def _callable(module: types.ModuleType, function: types.FunctionType) -> None:
    """Make ``allocator.<name>()`` call the API function of that name where a
    submodule holds the name too (allocator.runs, allocator.tune): Python
    binds a package's attribute to its submodule on import, so the module
    itself is made callable rather than replaced."""
    module.__class__ = type(
        f"{module.__name__}_api",
        (types.ModuleType,),
        {"__call__": staticmethod(function), "__module__": module.__name__},
    )


_callable(_runs_module, api.runs)
_callable(_tune_module, api.tune)
runs = _runs_module
tune = _tune_module

__all__ = [
    "AllocatorError",
    "BuildFailed",
    "Comparison",
    "DatabaseLocked",
    "InputCheck",
    "InputError",
    "Run",
    "RunNotFound",
    "Tuning",
    "TwoPass",
    "check",
    "compare",
    "delete",
    "export",
    "load",
    "load_tuning",
    "regime_report",
    "run",
    "runs",
    "settings",
    "snapshot",
    "tune",
    "two_pass",
]
