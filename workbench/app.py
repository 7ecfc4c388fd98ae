"""Start the GUI: the QApplication, settings, theme, the main window; and offscreen screenshots.

Nothing here imports torch: the window must appear fast, and panels import
their engines when they first need them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

import workbench
from backends.runs import RunDirError, ensure_runs_dir
from workbench.context import AppContext
from workbench.main_window import MainWindow
from workbench.settings import AppSettings, settings_file
from workbench.theme import apply_theme

# Set by the start-up benchmark: print when the window is shown, then quit.
EXIT_WHEN_SHOWN_ENV = "WORKBENCH_EXIT_WHEN_SHOWN"


def application() -> QApplication:
    """The process's QApplication, created once."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Workbench")
        app.setOrganizationName("Workbench")
        app.setApplicationVersion(workbench.__version__)
    assert isinstance(app, QApplication)
    return app


def build_window(runs_dir: Path | None = None, settings: AppSettings | None = None) -> MainWindow:
    """The main window over ``runs_dir`` (else the folder in the settings, else ./runs)."""
    app = application()
    settings = settings or AppSettings()
    chosen = Path(runs_dir) if runs_dir is not None else settings.runs_dir
    problem = None
    try:
        chosen = ensure_runs_dir(chosen)
    except RunDirError as exc:
        problem = str(exc)
    apply_theme(app, settings.theme)
    context = AppContext(chosen, settings)
    window = MainWindow(context)
    if problem:
        window.show_error(problem)
    return window


def run_gui(runs_dir: Path | None = None) -> int:
    """Open the window and run the event loop until it closes; returns the exit status."""
    app = application()
    window = build_window(runs_dir)
    app.aboutToQuit.connect(window.shutdown)
    if os.environ.get(EXIT_WHEN_SHOWN_ENV):
        window.sig_shown.connect(lambda: (print(f"shown {time.time():.6f}", flush=True),
                                          window.close()))
    window.show()
    return app.exec()


def _busy(panel: object) -> bool:
    is_busy = getattr(panel, "is_busy", None)
    return bool(is_busy()) if callable(is_busy) else False


def render_screenshot(
    out: Path, panel: str | None = None, size: QSize | None = None, runs_dir: Path | None = None,
    settings: AppSettings | None = None,
) -> Path:
    """Render the main window (optionally with ``panel`` in front) to a PNG file.

    Without ``settings`` the window reads a copy of the user's settings, so closing
    it saves its layout into the copy: a screenshot never changes the next start.
    """
    app = application()
    scratch = None
    if settings is None:
        scratch = tempfile.TemporaryDirectory(prefix="workbench-screenshot-")
        copy = Path(scratch.name) / "workbench.ini"
        user = settings_file()
        if user.is_file():
            shutil.copyfile(user, copy)
        settings = AppSettings(copy)
    window = build_window(runs_dir, settings)
    try:
        window.resize(size or QSize(1280, 800))
        if panel:
            window.show_panel(panel)
        window.show()
        # Let layouts settle and the panels finish their start-up work (a panel may
        # say it is busy, e.g. validating a form on a worker), for at most 30 s.
        settle = time.monotonic() + 1.0
        deadline = time.monotonic() + 30.0
        while time.monotonic() < settle or (
            time.monotonic() < deadline and any(_busy(p) for p in window.panels.values())
        ):
            app.processEvents()
            time.sleep(0.02)
        image = window.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise OSError(f"could not write {out}")
        return out
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
        if scratch is not None:
            scratch.cleanup()
