"""The one exception type the CLI turns into a clean message and exit code."""

from __future__ import annotations


class AllocatorError(Exception):
    """A user-facing failure: the message says what is wrong and what would be right.

    The CLI prints it without a traceback and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
