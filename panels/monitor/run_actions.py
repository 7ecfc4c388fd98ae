"""What the Monitor does to runs: delete (after asking), resume from a checkpoint, export.

:class:`RunActions` runs the file work on the panel's task slots and says
what happened on the message bar; it asks before deleting (never a running
run) and asks where exports go. The panel decides which runs and plots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from backends.monitor_data import export_metrics_csv
from backends.runs import RunDir, delete_run
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.plot_export import export_plots
from workbench.context import AppContext
from workbench.tasks import TaskRunner


def delete_runs(paths: list[Path]) -> list[Path]:
    """Delete these run folders (on a worker); returns them."""
    for path in paths:
        delete_run(RunDir(path))
    return paths


class RunActions(QObject):
    """Delete, resume and export; see the module docstring.

    Signals
    -------
    sig_removing(object)   the user confirmed deleting these runs (list of paths): drop them
    sig_deleted()          the folders are gone: list the runs again
    sig_exported(object)   files were written by an export (list of paths)
    """

    sig_removing = Signal(object)
    sig_deleted = Signal()
    sig_exported = Signal(object)

    def __init__(self, context: AppContext, window: QWidget, file_tasks: TaskRunner,
                 action_tasks: TaskRunner) -> None:
        super().__init__(window)
        self.context = context
        self._window = window
        self._file_tasks = file_tasks
        self._action_tasks = action_tasks
        self.delete_dialog: QMessageBox | None = None

    # ------------------------------------------------------------ delete

    def ask_delete(self, paths: list[Path], is_running: Callable[[Path], bool]) -> None:
        """Ask, then delete these runs (never a run that is still running)."""
        if not paths:
            self.context.show_status("Select the runs to delete first")
            return
        busy = [p.name for p in paths if is_running(p)]
        if busy:
            self.context.show_error(
                f"{', '.join(busy)} still running: stop {'it' if len(busy) == 1 else 'them'} in "
                "the Training panel before deleting"
            )
            return
        names = "\n".join(f"  {p.name}" for p in paths)
        box = QMessageBox(self._window)
        box.setObjectName("delete_dialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete runs")
        box.setText(f"Delete {len(paths)} run folder(s) with their checkpoints and metrics?")
        box.setInformativeText(f"{names}\n\nThis cannot be undone.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._on_delete_answer(box, paths, result))
        self.delete_dialog = box
        box.open()  # window-modal, not blocking: the answer arrives through `finished`

    def _on_delete_answer(self, box: QMessageBox, paths: list[Path], result: int) -> None:
        self.delete_dialog = None
        box.deleteLater()
        if result != QMessageBox.StandardButton.Yes:
            return
        self.sig_removing.emit(paths)
        self._file_tasks.submit(
            delete_runs, paths,
            on_done=lambda done: (
                self.context.show_status(f"Deleted {len(done)} run(s)"), self.sig_deleted.emit()
            ),
            on_error=lambda exc, _d: self.context.show_error(f"Could not delete the run: {exc}"),
        )

    def close(self) -> None:
        """Close a delete question still open (deleting nothing)."""
        if self.delete_dialog is not None:
            self.delete_dialog.reject()

    # ------------------------------------------------------------ resume

    def resume(self, path: Path, step: int) -> None:
        """Resume ``path`` from the checkpoint of ``step`` (the launch service checks it)."""
        from panels.monitor.checkpoints_view import resume_run

        self._action_tasks.submit(
            resume_run, path, step,
            on_done=lambda _info: (
                self.context.show_status(f"Resumed {path.name} from the checkpoint of step {step}"),
                self.context.events.sig_run_launched.emit(path),
            ),
        )

    # ------------------------------------------------------------ export

    def export_plots(self, plots: list[MetricPlot], base: Path) -> list[Path]:
        """Write these plots next to ``base`` (.png or .svg)."""
        paths = export_plots(plots, Path(base))
        self.context.show_status(f"Saved {len(paths)} plot(s) next to {base}")
        self.sig_exported.emit(paths)
        return paths

    def export_csv(self, paths: list[Path], path: Path) -> None:
        """Write these runs' metric records to a CSV file (on a worker)."""
        runs = [RunDir(p) for p in paths]
        if not runs:
            self.context.show_error("Select a run to export its metrics")
            return
        self._file_tasks.submit(
            export_metrics_csv, runs, Path(path),
            on_done=lambda rows: (
                self.context.show_status(f"Wrote {rows} records to {path}"),
                self.sig_exported.emit([Path(path)]),
            ),
            on_error=lambda exc, _d: self.context.show_error(f"Could not write {path}: {exc}"),
        )

    def ask_export_path(self, fmt: str, name: str) -> Path | None:
        """Where to write an export (``png``, ``svg`` or ``csv``), with the suffix; None: cancelled."""
        what = "metrics" if fmt == "csv" else "plots"
        path, _ = QFileDialog.getSaveFileName(
            self._window, f"Export {what}", str(self.context.runs_dir / f"{name}.{fmt}"),
            f"{fmt.upper()} (*.{fmt})",
        )
        if not path:
            return None
        chosen = Path(path)
        return chosen if chosen.suffix or fmt == "csv" else chosen.with_suffix(f".{fmt}")
