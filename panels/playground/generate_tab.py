"""The Generate tab's controls: prompt or chat, Run/Stop/Repeat, seed, limits, stop list, columns."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from panels.playground.chat_box import ChatBox
from panels.playground.colors import add_legend
from workbench.widgets.form import spin_box

DTYPE_CHOICES = ("auto", "bf16", "fp16", "fp32")


def parse_stop_strings(raw: str) -> tuple[str, ...]:
    """Stop strings as typed: one per row, exactly as written (no space trimmed or added);
    ``\\n`` and ``\\t`` written out become a newline and a tab; empty rows are skipped."""
    rows = [row.replace("\\n", "\n").replace("\\t", "\t") for row in raw.split("\n")]
    return tuple(dict.fromkeys(row for row in rows if row))


def format_stop_strings(stops: tuple[str, ...] | list[str]) -> str:
    """The rows that :func:`parse_stop_strings` reads back as ``stops``."""
    return "\n".join(s.replace("\t", "\\t").replace("\n", "\\n") for s in stops)


class GenerateTab(QWidget):
    """Widgets only: the panel connects the buttons and puts its columns into :attr:`splitter`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self._add_prompt(layout)
        layout.addLayout(self._round_bar())
        # Its own row: the window's minimum width stays what it was.
        layout.addLayout(self._chat_and_weights_bar())
        layout.addLayout(self._limits_bar())
        self._add_columns_area(layout)

    def _add_prompt(self, layout: QVBoxLayout) -> None:
        """The prompt, and in its place in chat mode the conversation."""
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type a prompt; every column continues it.")
        self.prompt.setPlainText("And God said,")
        self.prompt.setMaximumHeight(80)
        layout.addWidget(self.prompt)
        self.chat = ChatBox()
        self.chat.setVisible(False)
        layout.addWidget(self.chat)

    def _round_bar(self) -> QHBoxLayout:
        """Run all, Stop, Run again, + Column, and the seed."""
        bar = QHBoxLayout()
        self.run_button = QPushButton("Run all")
        self.run_button.setToolTip("every column continues the prompt with the same seed")
        self.stop_button = QPushButton("Stop")
        self.repeat_button = QPushButton("Run again, same seed")
        self.repeat_button.setToolTip("repeat the last round exactly")
        self.add_button = QPushButton("+ Column")
        for button in (self.run_button, self.stop_button, self.repeat_button, self.add_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("seed"))
        self.seed = spin_box(0, 2**31 - 1, 1234)
        bar.addWidget(self.seed)
        self.new_seed = QCheckBox("new seed each round")
        self.new_seed.setChecked(True)
        bar.addWidget(self.new_seed)
        bar.addStretch(1)
        return bar

    def _chat_and_weights_bar(self) -> QHBoxLayout:
        """Chat mode, Keep reply of column N, and the Hugging Face weights' number type."""
        bar = QHBoxLayout()
        self.chat_mode = QCheckBox("chat")
        self.chat_mode.setToolTip(
            "answer a conversation (system, user, assistant messages), rendered with each "
            "column's own chat template; needs chat models"
        )
        self.chat_mode.toggled.connect(self._show_chat)
        bar.addWidget(self.chat_mode)
        self.keep_reply = QPushButton("Keep reply of column")
        self.keep_reply.setToolTip("add that column's answer to the conversation as the assistant")
        self.keep_column = spin_box(1, 99, 1)
        bar.addWidget(self.keep_reply)
        bar.addWidget(self.keep_column)
        bar.addSpacing(12)
        bar.addWidget(QLabel("HF weights"))
        self.dtype = QComboBox()
        self.dtype.addItems(DTYPE_CHOICES)
        self.dtype.setToolTip(
            "number type of Hugging Face models' weights; auto = bf16 on a GPU, fp32 on the CPU"
        )
        bar.addWidget(self.dtype)
        bar.addStretch(1)
        return bar

    def _limits_bar(self) -> QHBoxLayout:
        """Max new tokens, the stop strings and the probability legend."""
        limits = QHBoxLayout()
        limits.addWidget(QLabel("max new tokens"))
        self.max_tokens = spin_box(1, 100000, 300)
        limits.addWidget(self.max_tokens)
        limits.addSpacing(12)
        limits.addWidget(QLabel("stop at"))
        self.stop_strings = QPlainTextEdit()
        self.stop_strings.setPlaceholderText("one per row, e.g.\n\\n\\n\nAmen")
        self.stop_strings.setToolTip(
            "stop strings, one per row, used exactly as typed (spaces included); \\n is a "
            "newline, \\t a tab. Generation stops at the first that appears; it is cut from the "
            "text and never shown, even partly"
        )
        self.stop_strings.setMinimumWidth(80)
        self.stop_strings.setMaximumHeight(46)
        limits.addWidget(self.stop_strings, 1)
        limits.addSpacing(12)
        add_legend(
            limits, "probability: low", "high", width=100,
            tip="tokens are coloured by the model's probability; hover one for its alternatives, "
            "click to pick an alternative and continue from it",
        )
        return limits

    def _add_columns_area(self, layout: QVBoxLayout) -> None:
        """The splitter the panel puts its columns into, scrolling sideways."""
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
        return parse_stop_strings(self.stop_strings.toPlainText())

    def set_stop_strings(self, stops: tuple[str, ...] | list[str]) -> None:
        self.stop_strings.setPlainText(format_stop_strings(stops))

    def dtype_value(self) -> str | None:
        value = self.dtype.currentText()
        return None if value == "auto" else value

    def _show_chat(self, on: bool) -> None:
        self.chat.setVisible(on)
        self.prompt.setVisible(not on)
