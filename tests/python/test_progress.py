"""The dbt progress reporter, fed fake dbt events: counts, throttling, the
terminal line and its clearing, and the hook dbt_invoke uses to find it."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from allocator import dbt_invoke, progress


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def event(name: str, **data: object) -> SimpleNamespace:
    """An EventMsg look-alike: msg.info.name and msg.data."""
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def node(unique_id: str) -> SimpleNamespace:
    return SimpleNamespace(unique_id=unique_id)


def finished(index: int, total: int = 4, name: str = "LogModelResult") -> SimpleNamespace:
    return event(name, index=index, total=total, node_info=node(f"model.p.m{index}"))


def test_plain_output_is_one_line_per_interval_and_a_final_one() -> None:
    clock, stream = FakeClock(), FakeStream(tty=False)
    report = progress.Progress("dbt build", stream, clock=clock)
    assert not report.live and report.interval == progress.PLAIN_INTERVAL
    report(event("ConcurrencyLine", node_count=4, num_threads=1, target_name="dev"))
    report(event("LogStartLine", index=1, total=4, node_info=node("model.p.m1")))
    clock.now += 1
    report(finished(1))  # 1 s in: too early for a line
    assert stream.getvalue() == ""
    clock.now += 5
    report(finished(2))
    clock.now += 1
    report(finished(3))  # 1 s after the last line: none
    assert stream.getvalue() == "dbt build: 2/4 nodes, 6.0 s\n"
    clock.now += 0.5
    report(finished(4))
    report(event("CommandCompleted", success=True))
    assert stream.getvalue().splitlines() == [
        "dbt build: 2/4 nodes, 6.0 s",
        "dbt build: 4/4 nodes, 7.5 s",
    ]
    report(finished(5))  # after the end: ignored
    assert len(stream.getvalue().splitlines()) == 2


def test_terminal_output_rewrites_one_line_and_clears_it() -> None:
    clock, stream = FakeClock(), FakeStream(tty=True)
    report = progress.Progress("dbt build", stream, clock=clock)
    assert report.live
    clock.now += 12.25
    report(finished(1, total=189))
    clock.now += 0.01
    report(finished(2, total=189))  # within the rewrite interval: not shown
    clock.now += 1
    report(finished(3, total=189))
    assert stream.getvalue() == ("\rdbt build: 1/189 nodes, 12.2 s\rdbt build: 3/189 nodes, 13.3 s")
    report(event("CommandCompleted", success=False))
    width = len("dbt build: 3/189 nodes, 13.3 s")
    assert stream.getvalue().endswith("\r" + " " * width + "\r")
    assert "\n" not in stream.getvalue()


def test_each_node_counts_once_whatever_reports_it() -> None:
    report = progress.Progress("dbt build", FakeStream(tty=False), clock=FakeClock())
    report(event("LogTestResult", index=1, num_models=3, node_info=node("test.p.t1")))
    report(event("LogTestResult", index=1, num_models=3, node_info=node("test.p.t1")))
    report(event("SkippingDetails", index=2, total=3, node_info=node("model.p.m2")))
    # no node_info on this one: keyed by its index and relation
    report(event("LogSkipBecauseError", index=3, total=3, relation="m3", status="error"))
    # hooks and start lines are not finished nodes
    report(event("LogHookEndLine", index=1, total=9, node_info=node("op.p.hook")))
    report(event("LogStartLine", index=3, total=3, node_info=node("model.p.m3")))
    assert (report.done, report.total) == (3, 3)


def test_nothing_is_written_for_a_pass_without_nodes() -> None:
    for tty in (False, True):
        stream = FakeStream(tty)
        report = progress.Progress("dbt parse", stream, clock=FakeClock())
        report(event("MainReportVersion", version="1.11"))
        report(event("CommandCompleted", success=True))
        assert stream.getvalue() == ""


def test_a_broken_event_never_reaches_dbt() -> None:
    report = progress.Progress("dbt build", FakeStream(tty=False), clock=FakeClock())
    report(SimpleNamespace())  # no info, no data
    report(event("LogModelResult", index=1, total="many", node_info=node("m")))
    assert report.done == 0


def test_threads_count_every_node() -> None:
    report = progress.Progress("dbt build", FakeStream(tty=False), clock=FakeClock())
    workers = [
        threading.Thread(
            target=lambda start=start: [
                report(finished(i, total=400)) for i in range(start, 400, 4)
            ]
        )
        for start in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert (report.done, report.total) == (400, 400)


def test_callbacks_only_inside_reporting() -> None:
    assert progress.current_callbacks("dbt build") == []
    stream = FakeStream(tty=True)
    with progress.reporting(stream):
        (first,) = progress.current_callbacks("dbt parse")
        assert isinstance(first, progress.Progress) and first.label == "dbt parse"
        first(finished(1))
        (second,) = progress.current_callbacks("dbt build")
        # a new pass ends the previous one: its line is cleared
        assert first.finished and stream.getvalue().endswith("\r")
        second(finished(1))
    # leaving the block clears a line dbt never ended (an exception, Ctrl-C)
    assert second.finished and stream.getvalue().endswith("\r")
    assert progress.current_callbacks("dbt build") == []
    assert isinstance(progress.progress_callbacks("x", stream)[0], progress.Progress)


def test_invoke_passes_the_reporter_to_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    import dbt.cli.main

    given = []

    class FakeRunner:
        def __init__(self, manifest=None, callbacks=None):
            given.append(callbacks)

        def invoke(self, args):
            for callback in given[-1]:
                callback(finished(1, total=1))
                callback(event("CommandCompleted", success=True))
            return SimpleNamespace(success=True, result=None, exception=None)

    monkeypatch.setattr(dbt.cli.main, "dbtRunner", FakeRunner)
    monkeypatch.setattr(dbt_invoke, "release_database", lambda: None)
    project = Path(__file__).resolve().parents[2]
    dbt_invoke.invoke("build", project, {})
    assert given == [[]]  # no reporting: no callbacks
    stream = FakeStream(tty=False)
    with progress.reporting(stream):
        dbt_invoke.invoke("build", project, {})
        own = []
        dbt_invoke.invoke("build", project, {}, callbacks=own)  # explicit ones win
    assert [type(c) for c in given[1]] == [progress.Progress] and given[2] == []
    assert stream.getvalue().startswith("dbt build: 1/1 nodes, ")


def test_the_events_it_reads_are_dbt_events() -> None:
    """A dbt upgrade that renames or reshapes these events fails here, not silently."""
    from dbt.events import core_types_pb2

    messages = core_types_pb2.DESCRIPTOR.message_types_by_name
    for name in progress.RESULT_EVENTS | progress.START_EVENTS:
        fields = {f.name for f in messages[name].fields}
        assert "index" in fields and ({"total", "num_models"} & fields), name
    assert "node_count" in {f.name for f in messages[progress.TOTAL_EVENT].fields}
    assert progress.END_EVENT in messages
