"""Shared by the screenshot scripts: an offscreen main window over a fresh runs folder.

``open_window()`` returns the application, the window and a ``wait(condition,
timeout)`` that keeps the event loop turning; ``fill_ddp_form`` puts the
launcher on gpt-tiny with DDP over two processes, as a user would type it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def open_window(size: tuple[int, int] = (1500, 940)) -> tuple[Any, Any, Callable[..., bool]]:
    from workbench.app import application, build_window
    from workbench.settings import AppSettings

    app = application()
    tmp = Path(tempfile.mkdtemp(prefix="workbench-shots-"))
    window = build_window(tmp / "runs", AppSettings(tmp / "settings.ini"))
    window.resize(*size)
    window.show()

    def wait(condition: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not condition():
            app.processEvents()
            time.sleep(0.02)
        return condition()

    return app, window, wait


def fill_ddp_form(launcher: Any, wait: Callable[..., bool], steps: int) -> None:
    """Wait for the launcher's first check, then ask for gpt-tiny, DDP on 2 processes."""
    wait(lambda: launcher.prepared is not None and not launcher.is_busy(), 120)
    form = launcher.form.editors
    form["name"].setText("gpt-tiny-ddp")
    form["strategy"].setCurrentText("ddp")
    form["nproc"].setValue(2)
    form["steps"].setValue(steps)
