"""The task runner: results on the GUI thread, newest request wins, cancel, clean shutdown."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject

from backends.progress import Cancelled
from workbench.tasks import TaskRunner


@pytest.fixture
def runner(qapp):
    owner = QObject()
    runner = TaskRunner(owner, name="test")
    yield runner
    runner.shutdown()


def test_result_arrives_on_the_gui_thread(qtbot, runner):
    seen = {}

    def work():
        seen["worker"] = threading.current_thread()
        return 42

    def done(value):
        seen["value"] = value
        seen["done_thread"] = threading.current_thread()

    with qtbot.waitSignal(runner.sig_done, timeout=5000) as blocker:
        runner.submit(work, on_done=done)
    assert blocker.args[1] == 42
    assert seen["value"] == 42
    assert seen["worker"] is not threading.main_thread()
    assert seen["done_thread"] is threading.main_thread()


def test_newest_waiting_request_replaces_the_stale_one(qtbot, runner):
    gate = threading.Event()
    results = []
    runner.submit(lambda: gate.wait(5) and "first", on_done=results.append)
    for value in ("stale-1", "stale-2", "newest"):
        runner.submit(lambda v=value: v, on_done=results.append)
    gate.set()
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=5000)
    assert results == ["first", "newest"]


def test_supersede_cancels_the_running_engine_through_its_progress_callback(qtbot, runner):
    stopped = threading.Event()
    results = []

    def slow(progress):
        try:
            for i in range(500):
                progress(i / 500)
                time.sleep(0.01)
        except Cancelled:
            stopped.set()
            raise
        return "slow finished"

    runner.submit(slow, on_done=results.append)
    qtbot.waitSignal(runner.sig_progress, timeout=5000)
    runner.submit(lambda: "interactive", on_done=results.append, supersede=True)
    qtbot.waitUntil(lambda: results == ["interactive"], timeout=5000)
    assert stopped.is_set()


def test_progress_is_reported_and_errors_come_back_as_one_line(qtbot, runner):
    fractions = []

    def failing(progress):
        progress(0.5)
        raise ValueError("column 'label' is missing: pick the true-label column\nmore detail")

    errors = []
    with qtbot.waitSignal(runner.sig_failed, timeout=5000) as blocker:
        runner.submit(failing, on_progress=fractions.append,
                      on_error=lambda exc, details: errors.append((exc, details)))
    assert blocker.args[1] == "column 'label' is missing: pick the true-label column"
    assert fractions == [0.5]
    assert isinstance(errors[0][0], ValueError) and "Traceback" in errors[0][1]


def test_shutdown_cancels_and_joins_the_worker(qtbot, runner):
    started = threading.Event()

    def endless(progress):
        started.set()
        while True:
            progress(0.0)
            time.sleep(0.01)

    runner.submit(endless)
    assert started.wait(5)
    assert runner.shutdown(timeout=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("workbench-test")]
    with pytest.raises(RuntimeError):
        runner.submit(lambda: None)


def test_partial_results_arrive_in_order_before_the_final_one(qtbot, runner):
    seen: list[object] = []

    def stream(partial):
        for token in ("The", " cat", " sat"):
            partial(token)
        return "done"

    with qtbot.waitSignal(runner.sig_done, timeout=5000):
        runner.submit(stream, on_partial=seen.append, on_done=seen.append)
    assert seen == ["The", " cat", " sat", "done"]


def test_a_superseded_stream_stops_sending_partials(qtbot, runner):
    seen: list[object] = []
    started = threading.Event()
    stopped = threading.Event()

    def endless(partial):
        try:
            while True:
                partial("old")
                started.set()
                time.sleep(0.005)
        finally:
            stopped.set()

    runner.submit(endless, on_partial=seen.append)
    assert started.wait(5)
    runner.submit(lambda partial: partial("new") or "new-done", on_partial=seen.append,
                  on_done=seen.append, supersede=True)
    qtbot.waitUntil(lambda: "new-done" in seen, timeout=5000)
    assert stopped.is_set()
    # Once the new request started, no partial of the old one reached the GUI.
    assert "old" not in seen[seen.index("new"):]


def test_a_failure_without_its_own_handler_reaches_the_default_route(qtbot, qapp, tmp_path):
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    shown: list[str] = []
    context = AppContext(tmp_path / "runs", AppSettings(tmp_path / "settings.ini"),
                         show_error=shown.append)
    owner = QObject()
    runner = context.task_runner(owner, name="default-route")
    try:
        def broken():
            raise ValueError("column 'label' is missing; add it or pick another column")

        with qtbot.waitSignal(runner.sig_failed, timeout=5000):
            runner.submit(broken)
        assert shown == ["column 'label' is missing; add it or pick another column"]
        assert context.errors == shown
    finally:
        runner.shutdown()
