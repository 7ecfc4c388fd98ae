"""The "Your script" form: a user's own training script, its arguments and process layout.

Like the config form it only turns widgets into the plain dict the backend
reads (``backends.launch.ScriptConfig.from_dict``) and shows the backend's
error under the field it names; the launch service validates.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from panels.training.form import STRATEGY_CHOICES, FormFieldError

SCRIPT_PRESET = "Your script…"
# The fields a launch-service message about a script run can name, in the order they are tried.
_MESSAGE_KEYS = ("script", "module", "cwd", "strategy", "nproc", "nnodes", "rdzv_endpoint",
                 "device", "env", "name")


def script_error_field(message: str) -> str:
    """The form field a script-run message is about (the script's own when none is named)."""
    return next((k for k in _MESSAGE_KEYS if message.startswith(k) or f" {k} " in message[:40]),
                "script")


class ScriptForm(QWidget):
    """File picker, arguments, working folder, strategy, processes, nodes, device, name.

    Signals
    -------
    sig_changed()   any value was edited
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.script_edit = QLineEdit()
        self.script_edit.setObjectName("script_path")
        self.script_edit.setPlaceholderText("a .py file that trains (torchrun starts one per process)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._ask_script)
        script_row = QHBoxLayout()
        script_row.addWidget(self.script_edit, 1)
        script_row.addWidget(browse)
        self.args_edit = QLineEdit()
        self.args_edit.setObjectName("script_args")
        self.args_edit.setPlaceholderText("--steps 200 --lr 3e-3   (as you would type them)")
        self.cwd_edit = QLineEdit()
        self.cwd_edit.setPlaceholderText("the script's folder")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("the script's name")
        self.strategy_box = QComboBox()
        self.strategy_box.addItems(list(STRATEGY_CHOICES))
        self.nproc_spin = QSpinBox()
        self.nproc_spin.setRange(0, 1024)
        self.nproc_spin.setSpecialValueText("auto")
        self.nnodes_spin = QSpinBox()
        self.nnodes_spin.setRange(1, 4096)
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setPlaceholderText("node0:29500 (several nodes only)")
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu", "cuda"])
        self.env_edit = QLineEdit()
        self.env_edit.setPlaceholderText("OMP_NUM_THREADS=4, NCCL_DEBUG=WARN")
        self.errors: dict[str, QLabel] = {}
        self._auto_cwd = ""
        layout = QFormLayout(self)
        rows: list[tuple[str, str, Any]] = [
            ("script", "Script", script_row), ("args", "Arguments", self.args_edit),
            ("cwd", "Working folder", self.cwd_edit), ("name", "Run name", self.name_edit),
            ("strategy", "Strategy", self.strategy_box), ("nproc", "Processes per node", self.nproc_spin),
            ("nnodes", "Nodes", self.nnodes_spin), ("rdzv_endpoint", "Rendezvous host:port",
                                                     self.endpoint_edit),
            ("device", "Device", self.device_box), ("env", "Environment", self.env_edit),
        ]
        for key, label, editor in rows:
            error = QLabel("")
            error.setStyleSheet("color: #d62728;")
            error.setWordWrap(True)
            error.hide()
            self.errors[key] = error
            if isinstance(editor, QHBoxLayout):
                layout.addRow(label, editor)
            else:
                layout.addRow(label, editor)
            layout.addRow("", error)
        for line in (self.script_edit, self.args_edit, self.cwd_edit, self.name_edit,
                     self.endpoint_edit, self.env_edit):
            line.textChanged.connect(lambda _t: self.sig_changed.emit())
        for box in (self.strategy_box, self.device_box):
            box.currentTextChanged.connect(lambda _t: self.sig_changed.emit())
        for spin in (self.nproc_spin, self.nnodes_spin):
            spin.valueChanged.connect(lambda _v: self.sig_changed.emit())

    def _ask_script(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Your training script", "", "Python (*.py)")
        if path:
            self.set_script(Path(path))

    def set_script(self, path: Path) -> None:
        self.script_edit.setText(str(path))
        # The working folder follows the script unless the user chose one of their own.
        if self.cwd_edit.text() in ("", self._auto_cwd):
            self._auto_cwd = str(Path(path).parent)
            self.cwd_edit.setText(self._auto_cwd)

    def values(self) -> dict[str, Any]:
        """The form as ScriptConfig values; a field that cannot be read raises FormFieldError."""
        try:
            args = shlex.split(self.args_edit.text())
        except ValueError as exc:
            raise FormFieldError("args", f"Arguments: {exc} (close the quote)") from exc
        env: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in self.env_edit.text().split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise FormFieldError("env", f"Environment: write {item!r} as NAME=value")
            env[key.strip()] = value.strip()
        script = self.script_edit.text().strip()
        return {
            "source": "script", "script": script, "args": args,
            "cwd": self.cwd_edit.text().strip() or (str(Path(script).parent) if script else ""),
            "name": self.name_edit.text().strip(), "strategy": self.strategy_box.currentText(),
            "nproc": self.nproc_spin.value(), "nnodes": self.nnodes_spin.value(),
            "rdzv_endpoint": self.endpoint_edit.text().strip(),
            "device": self.device_box.currentText(), "env": env,
        }

    def show_error(self, key: str | None, message: str) -> None:
        self.clear_errors()
        label = self.errors.get(key or "") or self.errors["script"]
        label.setText(message)
        label.show()

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.hide()
