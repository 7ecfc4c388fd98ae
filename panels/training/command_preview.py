"""The launcher's preview of what Launch will run: the exact command(s) and the LR schedule.

Both show a :class:`~backends.launch.preview.LaunchPreview` (or nothing while
the form is wrong): the shell line per node with the note on where the run's
sockets can be reached from, ready to copy or export as a script or a Slurm
job, and the learning-rate curve the built-in trainer will follow.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backends.launch.preview import LaunchPreview
from workbench.context import AppContext


class LrSchedulePlot(pg.PlotWidget):
    """The learning rate at each step of the checked config."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, title="Learning-rate schedule")
        self.setLabel("bottom", "step")
        self.setLabel("left", "lr")
        self.setMouseEnabled(x=False, y=False)
        self.curve = self.plot(pen=pg.mkPen("#2f65ca", width=2))

    def show_preview(self, preview: LaunchPreview | None) -> None:
        if preview is None or not preview.valid:
            self.curve.setData([], [])
        else:
            self.curve.setData(preview.lr_steps, preview.lr_values)


class CommandPreview(QWidget):
    """The exact command(s), where the run listens, and copy / export buttons."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.preview: LaunchPreview | None = None
        self.command_view = QPlainTextEdit()
        self.command_view.setObjectName("command_view")
        self.command_view.setReadOnly(True)
        self.command_view.setPlaceholderText("The exact command appears here once the form is valid.")
        self.command_view.setMaximumBlockCount(200)
        self.command_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.exposure_label = QLabel("")
        self.exposure_label.setObjectName("exposure_label")
        self.exposure_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (("Copy", self.copy_command),
                           ("Export node commands…", self._ask_export_commands),
                           ("Export Slurm script…", self._ask_export_slurm)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Command"))
        layout.addWidget(self.command_view, 1)
        layout.addWidget(self.exposure_label)
        layout.addLayout(buttons)

    def show_preview(self, preview: LaunchPreview | None) -> None:
        self.preview = preview
        if preview is None or preview.config is None:
            self.command_view.setPlainText("")
            self.exposure_label.setText("")
            return
        self.command_view.setPlainText(preview.command_text)
        self.exposure_label.setText(preview.exposure)
        # Several nodes listen on the network: say so where the command is.
        self.exposure_label.setStyleSheet(
            "color: #b35900;" if preview.config.get("nnodes", 1) > 1 else "color: gray;")

    def command_text(self) -> str:
        """The exact command(s) that will run, one per node, as shell text."""
        return self.preview.command_text if self.preview is not None else ""

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_text())
        self.context.show_status("Command copied")

    def export_commands(self, path: Path) -> None:
        """Write one shell script with every node's command (each node runs its own line)."""
        text = "#!/usr/bin/env bash\n# Run the line for each node on that node.\n"
        path.write_text(text + self.command_text() + "\n", encoding="utf-8")

    def export_slurm(self, path: Path) -> None:
        if self.preview is not None and self.preview.config is not None:
            path.write_text(self.preview.slurm, encoding="utf-8")

    def _ask_export_commands(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export node commands", "launch.sh")
        if path:
            self.export_commands(Path(path))

    def _ask_export_slurm(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export Slurm script", "train.sbatch")
        if path:
            self.export_slurm(Path(path))
