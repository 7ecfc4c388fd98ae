"""The Generate tab's chat mode: a system prompt and a message list every column answers.

Each column renders the same conversation with its own model's chat template
(on the worker), so two chat models, or two settings of one, answer the same
turn side by side. A column's reply can be kept as the next assistant
message, and the conversation goes on from there.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ROLES = ("user", "assistant")


class ChatBox(QWidget):
    """System prompt, messages so far, the next message; ``messages()`` is what columns answer.

    Signals
    -------
    sig_changed()   the conversation changed
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("system"))
        self.system = QLineEdit()
        self.system.setPlaceholderText("optional system prompt, e.g. You answer briefly.")
        self.system.textChanged.connect(self.sig_changed)
        row.addWidget(self.system, 1)
        layout.addLayout(row)
        self.history = QListWidget()
        self.history.setMaximumHeight(90)
        self.history.setWordWrap(True)
        layout.addWidget(self.history)
        row = QHBoxLayout()
        self.role = QComboBox()
        self.role.addItems(ROLES)
        row.addWidget(self.role)
        self.message = QPlainTextEdit()
        self.message.setPlaceholderText(
            "the next message; Run all sends the conversation with it to every column"
        )
        self.message.setMaximumHeight(48)
        row.addWidget(self.message, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("add the message to the conversation without running")
        self.add_button.clicked.connect(self.add_typed)
        self.undo_button = QPushButton("Remove last")
        self.undo_button.clicked.connect(self.remove_last)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.undo_button)
        row.addLayout(buttons)
        layout.addLayout(row)
        self._messages: list[dict[str, str]] = []

    # ------------------------------------------------------------ the conversation

    def add_message(self, role: str, content: str) -> None:
        self._messages.append({"role": role, "content": content})
        item = QListWidgetItem(f"{role}: {content}")
        item.setToolTip(content)
        self.history.addItem(item)
        self.history.scrollToBottom()
        self.sig_changed.emit()

    def add_typed(self) -> bool:
        """Move the typed message into the conversation; False when nothing is typed."""
        text = self.message.toPlainText()
        if not text.strip():
            return False
        self.add_message(self.role.currentText(), text)
        self.message.clear()
        self.role.setCurrentText("user" if self.role.currentText() == "assistant" else "assistant")
        return True

    def remove_last(self) -> None:
        if self._messages:
            self._messages.pop()
            self.history.takeItem(self.history.count() - 1)
            self.sig_changed.emit()

    def clear(self) -> None:
        self._messages.clear()
        self.history.clear()
        self.sig_changed.emit()

    def messages(self, include_typed: bool = True) -> list[dict[str, str]]:
        """System prompt (if any), the messages so far, and the typed one (if any)."""
        out = []
        if self.system.text():
            out.append({"role": "system", "content": self.system.text()})
        out.extend(dict(m) for m in self._messages)
        typed = self.message.toPlainText()
        if include_typed and typed.strip():
            out.append({"role": self.role.currentText(), "content": typed})
        return out

    def summary(self) -> str:
        """One line for a column's prompt area: what the models are answering."""
        messages = self.messages()
        last = messages[-1]["content"] if messages else ""
        return f"[chat · {len(messages)} messages] {last}"
