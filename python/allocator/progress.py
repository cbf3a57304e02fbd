"""Progress of a dbt pass while it runs: nodes done out of the total and the
seconds elapsed.

On a terminal one line is rewritten in place (carriage return) and cleared
when the pass ends; otherwise (a log file, CI) plain lines, at most one every
few seconds plus a final one, so logs stay short.

dbt reports progress as events: `dbtRunner(callbacks=[...])` calls each
callback with every EventMsg (``msg.info.name``, ``msg.data``) whatever the
log level. A `Progress` is such a callback. The CLI turns reporting on for a
command with `reporting(stream)`; `dbt_invoke.invoke` then asks
`current_callbacks()` for one fresh reporter per dbt invocation (pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

# dbt 1.11 events fired once per finished node (run, test, seed, snapshot,
# function, skipped); each carries the node's index and the total.
RESULT_EVENTS = frozenset(
    {
        "LogModelResult",
        "LogTestResult",  # total is in num_models
        "LogSeedResult",
        "LogSnapshotResult",
        "LogFunctionResult",
        "LogNodeResult",
        "LogNodeNoOpResult",
        "LogFreshnessResult",
        "SkippingDetails",
        "LogSkipBecauseError",
    }
)
# fired when a node starts: only its total is used. (LogHookStartLine and
# LogHookEndLine count on-run hooks, not nodes: ignored.)
START_EVENTS = frozenset({"LogStartLine"})
# fired before any node with the number of nodes selected
TOTAL_EVENT = "ConcurrencyLine"
# fired at the end of every dbt invocation, successful or not
END_EVENT = "CommandCompleted"

LIVE_INTERVAL = 0.1  # seconds between rewrites of the terminal line
PLAIN_INTERVAL = 5.0  # seconds between plain lines


class Progress:
    """A dbt event callback reporting one pass's progress on ``stream``.

    ``clock`` (seconds, monotonic) and ``live`` (rewrite one line; default:
    whether ``stream`` is a terminal) are injectable for tests. Safe to call
    from dbt's worker threads; never raises into dbt.
    """

    def __init__(
        self,
        label: str,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        live: bool | None = None,
        interval: float | None = None,
    ) -> None:
        self.label = label
        self.stream = stream
        self.clock = clock
        self.live = _is_terminal(stream) if live is None else live
        self.interval = (
            interval if interval is not None else (LIVE_INTERVAL if self.live else PLAIN_INTERVAL)
        )
        self.started = clock()
        self.total = 0
        self.finished = False
        self._done: set[Any] = set()
        self._last_shown: float | None = None
        self._width = 0  # characters of the live line on screen
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        return len(self._done)

    def __call__(self, msg: Any) -> None:
        with suppress(Exception):  # progress must never break a dbt run
            self.handle(msg)

    def handle(self, msg: Any) -> None:
        name = msg.info.name
        data = msg.data
        with self._lock:
            if self.finished:
                return
            if name == END_EVENT:
                self._finish()
            elif name == TOTAL_EVENT:
                self.total = max(self.total, int(getattr(data, "node_count", 0) or 0))
            elif name in START_EVENTS or name in RESULT_EVENTS:
                total = getattr(data, "total", 0) or getattr(data, "num_models", 0)
                self.total = max(self.total, int(total or 0))
                if name in RESULT_EVENTS:
                    self._done.add(_node_key(name, data))
                    self._show()

    def note(self, text: str) -> None:
        """Write a line of its own above the live line (which the next event redraws)."""
        with self._lock:
            if self.live and self._width:
                self._write("\r" + " " * self._width + "\r")
                self._width = 0
                self._last_shown = None
            self._write(text + "\n")

    def finish(self) -> None:
        """End the report: clear the terminal line, or write the final plain line."""
        with self._lock:
            if not self.finished:
                self._finish()

    def line(self) -> str:
        """e.g. 'dbt build: 57/189 nodes, 12.3 s'."""
        of_total = f"/{self.total}" if self.total else ""
        elapsed = self.clock() - self.started
        return f"{self.label}: {self.done}{of_total} nodes, {elapsed:.1f} s"

    # -- private, called with the lock held ---------------------------------

    def _show(self) -> None:
        now = self.clock()
        last = self._last_shown
        if self.live:
            if last is not None and now - last < self.interval:
                return
            text = self.line()  # never shorter than the one before: no padding
            self._write("\r" + text)
            self._width = len(text)
        else:
            # the first plain line only after one interval: a short pass
            # prints just its final line
            if now - (self.started if last is None else last) < self.interval:
                return
            self._write(self.line() + "\n")
        self._last_shown = now

    def _finish(self) -> None:
        self.finished = True
        if self.live:
            if self._width:
                self._write("\r" + " " * self._width + "\r")
                self._width = 0
        elif self._done or self.total:
            self._write(self.line() + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _node_key(name: str, data: Any) -> Any:
    """One key per node, so a node reported by two events counts once."""
    node_info = getattr(data, "node_info", None)
    unique_id = getattr(node_info, "unique_id", "") if node_info is not None else ""
    return unique_id or (name, getattr(data, "index", None), getattr(data, "relation", None))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_callbacks(label: str, stream: TextIO) -> list[Callable[[Any], None]]:
    """The dbtRunner callbacks reporting one pass labelled ``label`` on ``stream``."""
    return [Progress(label, stream)]


@dataclass
class _Reporting:
    stream: TextIO
    reporters: list[Progress] = field(default_factory=list)

    def finish_all(self) -> None:
        for reporter in self.reporters:
            reporter.finish()
        self.reporters.clear()


_REPORTING: ContextVar[_Reporting | None] = ContextVar("allocator_progress", default=None)


@contextmanager
def reporting(stream: TextIO) -> Iterator[None]:
    """Report the progress of every dbt pass run inside this block on ``stream``."""
    state = _Reporting(stream)
    token = _REPORTING.set(state)
    try:
        yield
    finally:
        # a pass that ended without dbt's CommandCompleted event (an
        # exception, Ctrl-C) must not leave its line on the terminal
        state.finish_all()
        _REPORTING.reset(token)


def current_callbacks(label: str = "dbt") -> list[Callable[[Any], None]]:
    """Callbacks for the dbt invocation about to start: a new reporter inside
    `reporting`, none outside it (then dbt's own log, if any, is the output)."""
    state = _REPORTING.get()
    if state is None:
        return []
    state.finish_all()  # the previous pass is over
    callbacks = progress_callbacks(label, state.stream)
    state.reporters.extend(c for c in callbacks if isinstance(c, Progress))
    return callbacks


# --------------------------------------------------------------------------
# steps inside one dbt node: a long Python model's own progress
# --------------------------------------------------------------------------

#: Where step lines go while a command reports them (innermost last). dbt
#: runs models on worker threads, which do not see the context variable, so
#: the sink is registered for the process while the command runs.
_STEP_SINKS: list[Callable[[str], None]] = []
STEP_INTERVAL = 2.0  # seconds between step lines


@contextmanager
def step_reporting(emit: Callable[[str], None]) -> Iterator[None]:
    """Report the steps of the dbt nodes run inside this block (e.g. the
    tuning's configurations) through ``emit``, or above the live progress
    line when one is shown."""
    state = _REPORTING.get()

    def sink(text: str) -> None:
        live = [r for r in (state.reporters if state else []) if not r.finished]
        if live:
            live[-1].note(text)
        else:
            emit(text)

    _STEP_SINKS.append(sink)
    try:
        yield
    finally:
        _STEP_SINKS.remove(sink)


class Steps:
    """Counts done out of a total, with the time left at the rate so far, as
    lines at most every ``interval`` seconds and one at the end."""

    def __init__(
        self,
        label: str,
        total: int,
        sink: Callable[[str], None] | None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = STEP_INTERVAL,
    ) -> None:
        self.label, self.total, self.sink, self.clock = label, total, sink, clock
        self.interval = interval
        self.started = clock()
        self._last: float | None = None

    def line(self, done: int, now: float | None = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.started
        text = f"{self.label}: {done:,}/{self.total:,}, {elapsed:.1f} s"
        if 0 < done < self.total:
            text += f", about {elapsed / done * (self.total - done):.0f} s left"
        return text

    def advance(self, done: int) -> None:
        if self.sink is None:
            return
        now = self.clock()
        if done < self.total and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        with suppress(Exception):  # progress must never break a dbt run
            self.sink(self.line(done, now))


def steps(label: str, total: int) -> Steps:
    """A step counter reporting to the running command, if it reports steps."""
    return Steps(label, total, _STEP_SINKS[-1] if _STEP_SINKS else None)
