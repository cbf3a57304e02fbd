"""The exceptions of the allocator, one hierarchy for the API and the CLI.

Every failure a user can cause or meet is an :class:`AllocatorError`; its
message says what is wrong and what would be right. The Python API raises
them and never exits the process; the CLI prints the message without a
traceback and exits with ``exit_code``.

    AllocatorError            anything the allocator refuses or cannot do
    ├── InputError            an argument, file or DataFrame that cannot be used
    │                         (also a ValueError): a bad date, a window outside
    │                         the data, an unknown profile, a malformed file
    ├── RunNotFound           a run id or tuning id that is not stored (also a
    │                         LookupError); the message lists the known ones
    ├── DatabaseLocked        another process holds the database file's lock
    └── BuildFailed           a dbt build or test failed: nothing was stored

In a notebook::

    try:
        result = allocator.two_pass(prices=df)
    except allocator.InputError as exc:
        print(exc)      # e.g. "start 1999-01-04 is before the data: ..."
"""

from __future__ import annotations


class AllocatorError(Exception):
    """A user-facing failure: the message says what is wrong and what would be right.

    The CLI prints it without a traceback and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class InputError(AllocatorError, ValueError):
    """An argument, input file or DataFrame the allocator cannot use."""


class RunNotFound(AllocatorError, LookupError):
    """A run id (or tuning id) that is not in the database."""


class DatabaseLocked(AllocatorError):
    """Another process holds the database file's lock."""


class BuildFailed(AllocatorError):
    """A dbt build or one of its tests failed; every stored run is as it was."""


__all__ = ["AllocatorError", "BuildFailed", "DatabaseLocked", "InputError", "RunNotFound"]
