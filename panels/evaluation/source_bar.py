"""The row that chooses what to evaluate (a demo, a CSV, a checkpoint) and shows reading progress."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from backends.evaluate.sources import DEMOS
from panels.evaluation.readers import demo_title


class SourceBar(QWidget):
    """Demo picker, CSV and checkpoint buttons, what is loaded, a progress bar and Cancel.

    Signals
    -------
    sig_demo_requested(str)      Load was pressed: the demo's name (``compas``, ``adult``)
    sig_csv_chosen(str)          a CSV file of predictions was chosen in the file dialog
    sig_checkpoint_chosen(str)   a checkpoint or run folder was chosen in the folder dialog
    """

    sig_demo_requested = Signal(str)
    sig_csv_chosen = Signal(str)
    sig_checkpoint_chosen = Signal(str)

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context  # the checkpoint dialog opens in its runs folder
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        self.demo_combo = QComboBox()
        self.demo_combo.addItems([demo_title(d) for d in DEMOS])
        self.demo_button = QPushButton("Load")
        self.demo_button.setToolTip("COMPAS: ProPublica's two-year data; Adult: UCI census income")
        self.demo_button.clicked.connect(
            lambda: self.sig_demo_requested.emit(DEMOS[self.demo_combo.currentIndex()])
        )
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip("Open a CSV file of predictions")
        self.csv_button.clicked.connect(self._choose_csv)
        self.checkpoint_button = QPushButton("Open checkpoint…")
        self.checkpoint_button.setToolTip(
            "A classifier trained by the workbench on compas or adult"
        )
        self.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self.source_label = QLabel("No predictions loaded: load a demo, a CSV or a checkpoint.")
        # A long file name must not force the window wider: the label gives way.
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()  # shown while something is read or evaluated
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for w in (
            QLabel("Demo:"),
            self.demo_combo,
            self.demo_button,
            self.csv_button,
            self.checkpoint_button,
        ):
            bar.addWidget(w)
        bar.addWidget(self.source_label, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)

    def set_text(self, text: str) -> None:
        """Say what is loaded, or what is happening to it."""
        self.source_label.setText(text)

    def set_busy(self, busy: bool) -> None:
        """Show the progress bar (from zero) and enable Cancel while reading; hide them after."""
        if busy:
            self.progress.setValue(0)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open predictions", "", "CSV files (*.csv *.txt);;All files (*)"
        )
        if path:
            self.sig_csv_chosen.emit(path)

    def _choose_checkpoint(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a classifier checkpoint or run folder", str(self.context.runs_dir)
        )
        if path:
            self.sig_checkpoint_chosen.emit(path)
