"""The Generate tab's controls: prompt, Run/Stop/Repeat, seed, limits, stop strings, columns."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from panels.latent.form import spin_box
from panels.playground.colors import add_legend


def parse_stop_strings(raw: str) -> tuple[str, ...]:
    """Stop strings as typed: split at ``|``, ``\\n`` and ``\\t`` written out; blanks dropped."""
    parts = [p.replace("\\n", "\n").replace("\\t", "\t") for p in raw.split("|")]
    return tuple(p for p in parts if p.strip(" ") or "\n" in p)


class GenerateTab(QWidget):
    """Widgets only: the panel connects the buttons and puts its columns into :attr:`splitter`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type a prompt; every column continues it.")
        self.prompt.setPlainText("And God said,")
        self.prompt.setMaximumHeight(80)
        layout.addWidget(self.prompt)

        bar = QHBoxLayout()
        self.run_button = QPushButton("Run all")
        self.run_button.setToolTip("every column continues the prompt with the same seed")
        self.stop_button = QPushButton("Stop")
        self.repeat_button = QPushButton("Run again, same seed")
        self.repeat_button.setToolTip("repeat the last run exactly")
        self.add_button = QPushButton("+ Column")
        for button in (self.run_button, self.stop_button, self.repeat_button, self.add_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("seed"))
        self.seed = spin_box(0, 2**31 - 1, 1234)
        bar.addWidget(self.seed)
        self.new_seed = QCheckBox("new seed each run")
        self.new_seed.setChecked(True)
        bar.addWidget(self.new_seed)
        bar.addStretch(1)
        layout.addLayout(bar)

        limits = QHBoxLayout()
        limits.addWidget(QLabel("max new tokens"))
        self.max_tokens = spin_box(1, 100000, 300)
        limits.addWidget(self.max_tokens)
        limits.addSpacing(12)
        limits.addWidget(QLabel("stop at"))
        self.stop_strings = QLineEdit()
        self.stop_strings.setPlaceholderText("e.g. \\n\\n | Amen")
        self.stop_strings.setToolTip(
            "stop strings, separated by |; \\n is a newline. "
            "They are cut from the text and never shown, even partly"
        )
        self.stop_strings.setMinimumWidth(80)
        limits.addWidget(self.stop_strings, 1)
        limits.addSpacing(12)
        add_legend(
            limits, "probability: low", "high", width=100,
            tip="tokens are coloured by the model's probability; hover one for its alternatives, "
            "click to pick an alternative and continue from it",
        )
        layout.addLayout(limits)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        # Many columns scroll sideways rather than forcing the window wider.
        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setWidget(self.splitter)
        layout.addWidget(scroller, 1)

    def stop_strings_value(self) -> tuple[str, ...]:
        return parse_stop_strings(self.stop_strings.text())
