"""What the main window hands every panel: settings, the runs folder, messages, tasks.

Panels receive an :class:`AppContext` instead of the main window itself, so a
panel never imports the window (no circular floors) and can be built alone in
a test with a context of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.settings import AppSettings
from workbench.tasks import TaskRunner


class AppEvents(QObject):
    """Application-wide notifications panels may listen to.

    Signals
    -------
    sig_run_opened(object)          a run folder (Path) was opened from the File menu
    sig_checkpoint_opened(object)   a checkpoint (Path) was opened from the File menu
    sig_runs_dir_changed(object)    the runs folder (Path) changed
    sig_run_launched(object)        a run folder (Path) was just launched from the GUI
    sig_run_selected(object)        the user selected a run (Path) in a runs list
    """

    sig_run_launched = Signal(object)
    sig_run_selected = Signal(object)
    sig_run_opened = Signal(object)
    sig_checkpoint_opened = Signal(object)
    sig_runs_dir_changed = Signal(object)


class AppContext:
    """Shared services for panels."""

    def __init__(
        self,
        runs_dir: Path,
        settings: AppSettings,
        show_error: Callable[[str], None] | None = None,
        show_status: Callable[[str], None] | None = None,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.settings = settings
        self.events = AppEvents()
        self._show_error = show_error
        self._show_status = show_status
        self.errors: list[str] = []  # every error shown, newest last (read by tests)

    def show_error(self, text: str) -> None:
        """Tell the user something went wrong and what to do (a message bar, not a crash)."""
        self.errors.append(text)
        if self._show_error is not None:
            self._show_error(text)

    def show_status(self, text: str) -> None:
        """A passing note in the status bar."""
        if self._show_status is not None:
            self._show_status(text)

    def set_runs_dir(self, path: Path) -> None:
        self.runs_dir = Path(path)
        self.events.sig_runs_dir_changed.emit(self.runs_dir)

    def task_runner(self, owner: QObject, name: str = "task") -> TaskRunner:
        """A task slot owned by ``owner`` (a panel); call its ``shutdown()`` on close.

        A request submitted without ``on_error`` reports its failure to the
        message bar through :meth:`show_error`.
        """
        return TaskRunner(parent=owner, name=name, report_error=self.show_error)
