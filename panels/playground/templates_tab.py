"""The templates tab: build a zero-, one- or few-shot prompt, preview it, save and reload it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.widgets.form import add_button


class TemplateEditor(QWidget):
    """Build a zero-, one- or few-shot prompt; save and reload templates.

    Signals
    -------
    sig_use(str, str)  use this prompt (text) with this suggested stop string
    sig_preview_changed(str)  the preview now shows this prompt
    """

    sig_use = Signal(str, str)
    sig_preview_changed = Signal(str)

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.on_error: Callable[[str], None] | None = None  # told a save or load failed
        layout = QHBoxLayout(self)
        layout.addWidget(self._form(), 3)
        layout.addLayout(self._preview_side(), 2)
        for signal in (self.instruction.textChanged, self.name.textChanged):
            signal.connect(self.update_preview)
        for edit in (self.input_label, self.output_label, self.query):
            edit.textChanged.connect(self.update_preview)
        self.examples.itemChanged.connect(self.update_preview)
        self.shots.valueChanged.connect(self.update_preview)
        self.refresh_saved()
        self.update_preview()

    def _form(self) -> QWidget:
        """Name and saved templates, instruction, labels, examples, shots and the query."""
        form_box = QWidget()
        form = QFormLayout(form_box)
        row = QHBoxLayout()
        self.name = QLineEdit("my template")
        row.addWidget(self.name, 1)
        self.saved = QComboBox()
        self.saved.setMinimumContentsLength(14)
        self.saved.setPlaceholderText("saved templates")
        row.addWidget(self.saved)
        self.load_button = add_button(row, "Load", self.load_selected)
        self.save_button = add_button(row, "Save", self.save)
        form.addRow("Name", row)
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText("What the model should do, e.g. 'Continue the verse.'")
        self.instruction.setMaximumHeight(70)
        form.addRow("Instruction", self.instruction)
        labels = QHBoxLayout()
        self.input_label = QLineEdit("Input:")
        self.output_label = QLineEdit("Output:")
        labels.addWidget(QLabel("input label"))
        labels.addWidget(self.input_label)
        labels.addWidget(QLabel("output label"))
        labels.addWidget(self.output_label)
        form.addRow("Labels", labels)
        self.examples = QTableWidget(0, 2)
        self.examples.setHorizontalHeaderLabels(["Example input", "Example output"])
        self.examples.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.examples.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        form.addRow("Examples", self.examples)
        form.addRow("", self._example_buttons())
        self.query = QLineEdit()
        self.query.setPlaceholderText("the new input the model should answer")
        form.addRow("Query", self.query)
        return form_box

    def _example_buttons(self) -> QHBoxLayout:
        """Add / remove example rows, and how many examples go into the prompt."""
        buttons = QHBoxLayout()
        add_button(buttons, "Add example", lambda: self.add_example("", ""))
        add_button(buttons, "Remove selected", self._remove_selected)
        self.shots = QSpinBox()
        self.shots.setRange(0, 0)
        self.shots.setToolTip("how many examples go into the prompt: 0 = zero-shot, 1 = one-shot")
        self.shots_label = QLabel()
        buttons.addStretch(1)
        buttons.addWidget(QLabel("examples used"))
        buttons.addWidget(self.shots)
        buttons.addWidget(self.shots_label)
        return buttons

    def _preview_side(self) -> QVBoxLayout:
        """The prompt preview, how it fits column 1's model, and Use as prompt."""
        right = QVBoxLayout()
        right.addWidget(QLabel("Prompt preview"))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        right.addWidget(self.preview, 1)
        self.fit_label = QLabel("")
        self.fit_label.setWordWrap(True)
        self.fit_label.setToolTip("the prompt measured with column 1's model")
        right.addWidget(self.fit_label)
        self.use_button = add_button(right, "Use as prompt", self._use)
        return right

    def add_example(self, text_in: str, text_out: str) -> None:
        row = self.examples.rowCount()
        self.examples.blockSignals(True)
        self.examples.insertRow(row)
        self.examples.setItem(row, 0, QTableWidgetItem(text_in))
        self.examples.setItem(row, 1, QTableWidgetItem(text_out))
        self.examples.blockSignals(False)
        follow = self.shots.value() == self.shots.maximum()
        self.shots.setMaximum(self.examples.rowCount())
        if follow:
            self.shots.setValue(self.examples.rowCount())
        self.update_preview()

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.examples.selectedIndexes()}, reverse=True)
        for row in rows:
            self.examples.removeRow(row)
        self.shots.setMaximum(self.examples.rowCount())
        self.update_preview()

    def template(self) -> Any:
        """The form as a ``backends.text.templates.PromptTemplate`` (blank examples left out)."""
        from backends.text.templates import Example, PromptTemplate

        examples = []
        for row in range(self.examples.rowCount()):
            cells = [self.examples.item(row, c) for c in (0, 1)]
            texts = [c.text() if c is not None else "" for c in cells]
            if any(t.strip() for t in texts):
                examples.append(Example(input=texts[0], output=texts[1]))
        return PromptTemplate(
            name=self.name.text().strip() or "untitled",
            instruction=self.instruction.toPlainText(),
            examples=examples,
            query=self.query.text(),
            input_label=self.input_label.text(),
            output_label=self.output_label.text(),
            shots=self.shots.value(),
        )

    def set_template(self, template: Any) -> None:
        self.name.setText(template.name)
        self.instruction.setPlainText(template.instruction)
        self.input_label.setText(template.input_label)
        self.output_label.setText(template.output_label)
        self.query.setText(template.query)
        self.examples.setRowCount(0)
        self.shots.setMaximum(0)
        for example in template.examples:
            self.add_example(example.input, example.output)
        shots = len(template.examples) if template.shots is None else template.shots
        self.shots.setValue(min(shots, len(template.examples)))
        self.update_preview()

    def update_preview(self, *_args: object) -> None:
        template = self.template()
        n = len(template.used_examples())
        self.shots_label.setText("zero-shot" if n == 0 else "one-shot" if n == 1 else f"{n}-shot")
        self.examples.blockSignals(True)  # greying rows must not re-enter this method
        for row in range(self.examples.rowCount()):
            for col in (0, 1):
                item = self.examples.item(row, col)
                if item is not None:
                    used = row < self.shots.value()
                    item.setForeground(QColor("#111111" if used else "#9a9a9a"))
                    item.setToolTip("" if used else "not used: raise 'examples used' to include it")
        self.examples.blockSignals(False)
        self.preview.setPlainText(template.build())
        self.sig_preview_changed.emit(self.preview.toPlainText())

    def show_fit(self, text: str, truncated: bool) -> None:
        """Say how the preview fits column 1's model (the truncation note when it does not)."""
        self.fit_label.setText(text)
        self.fit_label.setStyleSheet("color: #a05a00;" if truncated else "color: palette(dark);")

    def refresh_saved(self) -> None:
        from backends.text.templates import list_templates

        self.saved.clear()
        for path in list_templates(self.folder):
            self.saved.addItem(path.stem, str(path))
        self.load_button.setEnabled(self.saved.count() > 0)

    def save(self) -> Path | None:
        from backends.text.templates import TemplateError, save_template

        try:
            path = save_template(self.template(), self.folder)
        except (TemplateError, OSError) as exc:
            self._error(str(exc))
            return None
        self.refresh_saved()
        self.saved.setCurrentIndex(self.saved.findData(str(path)))
        return path

    def load_selected(self) -> None:
        from backends.text.templates import TemplateError, load_template

        path = self.saved.currentData()
        if not path:
            return
        try:
            self.set_template(load_template(path))
        except TemplateError as exc:
            self._error(str(exc))

    def _error(self, message: str) -> None:
        self.window().setProperty("lastError", message)
        if self.on_error is not None:
            self.on_error(message)

    def _use(self) -> None:
        template = self.template()
        self.sig_use.emit(template.build(), template.suggested_stop())
