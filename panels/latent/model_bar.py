"""The studio's model bar: which checkpoint renders, which one to compare with, and what it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from workbench.context import AppContext
from workbench.widgets.form import add_button


class ModelBar(QWidget):
    """Model and compare choices (shipped demos, then checkpoints opened), with open buttons.

    Signals
    -------
    sig_model_chosen(str)        a demo name or checkpoint path to open as the model
    sig_compare_chosen(object)   a demo name or checkpoint path to compare with; None for none
    """

    sig_model_chosen = Signal(str)
    sig_compare_chosen = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        self.model_combo, self.open_button = self._add_choice(
            bar, "Model", 120, self._on_model_chosen,
            "Open checkpoint…", "Open a DCGAN or VAE checkpoint (or run) folder", self.sig_model_chosen)
        bar.addSpacing(8)
        self.compare_combo, self.compare_open = self._add_choice(
            bar, "Compare with", 100, self._on_compare_chosen,
            "Open…", "Open a checkpoint to compare", self.sig_compare_chosen)
        self.model_info = QLabel("")
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long checkpoint path must not widen the window: the label shrinks, the tooltip keeps it all.
        self.model_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.model_info, 1)

    def _add_choice(self, bar: QHBoxLayout, label: str, min_width: int, on_activated: Callable[[int], None],
                    button_text: str, dialog_title: str, signal: SignalInstance) -> tuple[QComboBox, QPushButton]:
        """A labelled combo and, beside it, a button that picks a folder and sends it on ``signal``."""
        bar.addWidget(QLabel(label))
        combo = QComboBox()
        combo.setMinimumWidth(min_width)
        combo.activated.connect(on_activated)
        bar.addWidget(combo)
        button = add_button(bar, button_text, lambda: self._ask_folder(dialog_title, signal))
        return combo, button

    def fill_choices(self, demos: Iterable[str]) -> None:
        """Offer the shipped demos in both combos ("(none)" first for compare)."""
        self.model_combo.clear()
        self.compare_combo.clear()
        self.compare_combo.addItem("(none)", None)
        for name in demos:
            self.model_combo.addItem(f"demo: {name}", name)
            self.compare_combo.addItem(f"demo: {name}", name)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("(open a checkpoint)", None)

    def first_choice(self) -> str | None:
        """The demo opened on first show, if any is shipped."""
        return self.model_combo.itemData(0)

    def show_model(self, path: str, text: str, tooltip: str) -> None:
        """Select ``path`` as the model (adding it to the choices) and describe it."""
        self._select(self.model_combo, path)
        self.model_info.setText(text)
        self.model_info.setToolTip(tooltip)

    def show_compare(self, path: str) -> None:
        """Select ``path`` as the compare model, adding it to the choices."""
        self._select(self.compare_combo, path)

    def clear_compare(self) -> None:
        self.compare_combo.setCurrentIndex(0)

    def set_compare_enabled(self, enabled: bool) -> None:
        for widget in (self.compare_combo, self.compare_open):
            widget.setEnabled(enabled)

    def _select(self, combo: QComboBox, path: str) -> None:
        # Both combos learn a checkpoint opened in either, so it can be swapped in later.
        for each in (self.model_combo, self.compare_combo):
            if each.findData(path) < 0:
                each.addItem(Path(path).name if Path(path).name else path, path)
        index = combo.findData(path)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _on_model_chosen(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data:
            self.sig_model_chosen.emit(data)

    def _on_compare_chosen(self, index: int) -> None:
        self.sig_compare_chosen.emit(self.compare_combo.itemData(index) or None)

    def _ask_folder(self, title: str, signal: SignalInstance) -> None:
        path = QFileDialog.getExistingDirectory(self, title, str(self.context.runs_dir))
        if path:
            signal.emit(path)
