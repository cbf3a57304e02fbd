"""Allocator v1: SQL-first portfolio risk allocator.

The Python API (allocator.api; the `allocator` CLI is a thin layer over it)::

    import allocator
    audit = allocator.two_pass(prices=closes)   # a path or a DataFrame, wide or long
    audit.metrics, audit.controls, audit.regimes
    audit.report()                              # the HTML report's path

Errors are :class:`AllocatorError` and its subclasses (allocator.errors).
"""

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
    runs,
    settings,
    snapshot,
    tune,
    two_pass,
)
from allocator.errors import AllocatorError, BuildFailed, DatabaseLocked, InputError, RunNotFound

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
