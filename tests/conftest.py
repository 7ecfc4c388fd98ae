"""Test-wide setup: offscreen Qt, private settings, and checks for leaked threads and windows."""

from __future__ import annotations

import os
import threading

import pytest

# Before anything imports Qt: no display is needed, and none is touched.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory, monkeypatch):
    """Each test gets its own settings file, so no test reads a user's or another test's."""
    path = tmp_path_factory.mktemp("settings") / "workbench.ini"
    monkeypatch.setenv("WORKBENCH_SETTINGS", str(path))
    yield path


def _workbench_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("workbench-") and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_leaks(request):
    """Fail a test that leaves a worker thread running or a top-level window open.

    Autouse fixtures are set up before ``qtbot``, so this teardown runs after
    qtbot has closed the widgets it was given: whatever is still open leaked.
    """
    before = set(_workbench_threads())
    yield
    leaked_threads = [name for name in _workbench_threads() if name not in before]
    leaked_windows = []
    # Only a test that used Qt can leave a window or deferred deletions; a test that did not
    # must not run the event loop (it would deliver other tests' leftovers at a random time).
    if "qtbot" in request.fixturenames and "PySide6.QtWidgets" in __import__("sys").modules:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            app.processEvents()
            leaked_windows = [
                f"{type(w).__name__}({w.windowTitle()!r})"
                for w in QApplication.topLevelWidgets()
                if w.isVisible()
            ]
            for widget in QApplication.topLevelWidgets():
                if widget.isVisible():
                    widget.close()
            # Destroy what this test scheduled for deletion now, not during the next test's
            # event loop, where a worker thread's garbage collection could walk half-destroyed
            # Qt wrappers.
            from PySide6.QtCore import QCoreApplication, QEvent

            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    if leaked_threads or leaked_windows:
        pytest.fail(
            f"test left running: threads {leaked_threads}, windows {leaked_windows}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on one thread: on a busy 2-core machine two threads are many times slower,
    and the panels' workers generate on one thread too. Use it per module with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
