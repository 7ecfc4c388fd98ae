"""The training-config form: one editor per config key, each with its own error line.

The form knows nothing about training: it turns widgets into the plain dict
that ``backends.train.config.TrainConfig.from_dict`` reads, fills itself from
such a dict (a preset, a run's config.toml), and shows an error under the
field it names. Validation itself happens in the backend, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Field:
    """One form row: the config key (``data.x`` for nested ones), its label and editor kind."""

    key: str
    label: str
    kind: str  # "text", "int", "float", "choice", "pairs"
    choices: tuple[str, ...] = ()
    minimum: int = 0
    tip: str = ""


STRATEGY_CHOICES = ("single", "ddp", "fsdp", "tp", "fsdp_tp")

FIELDS: tuple[Field, ...] = (
    Field("name", "Run name", "text", tip="folder name under the runs folder"),
    Field("model", "Model", "choice", ("gpt", "dcgan", "vae", "classifier")),
    Field("model_config", "Model size", "pairs",
          tip="the model's own settings, e.g. n_layer=2, n_head=4, n_embd=64"),
    Field("data.dataset", "Dataset", "choice",
          ("auto", "shipped", "bible", "file", "fashion-mnist", "digits", "adult", "compas",
           "breast-cancer", "synthetic")),
    Field("data.path", "Data path", "text", tip="a text file or a folder of IDX files"),
    Field("strategy", "Strategy", "choice", STRATEGY_CHOICES),
    Field("nproc", "Processes per node", "int", minimum=-99,
          tip="GPUs per node; CPU processes where there is no GPU"),
    Field("nnodes", "Nodes", "int", minimum=-99),
    Field("rdzv_endpoint", "Rendezvous host:port", "text",
          tip="address of node 0 that every node reaches (multi-node only)"),
    Field("tp", "Tensor-parallel degree", "int", minimum=-99, tip="fsdp_tp only; 0 = automatic"),
    Field("device", "Device", "choice", ("auto", "cpu", "cuda")),
    Field("precision", "Precision", "choice", ("fp32", "bf16", "fp16")),
    Field("batch_size", "Global batch size", "int", minimum=-99),
    Field("grad_accum", "Gradient accumulation", "int", minimum=-99),
    Field("steps", "Steps", "int", minimum=-99),
    Field("lr", "Learning rate", "float"),
    Field("warmup_steps", "Warm-up steps", "int", minimum=-99),
    Field("min_lr_ratio", "Final LR / peak (cosine)", "float"),
    Field("grad_clip", "Gradient clipping (norm)", "float", tip="0 turns clipping off"),
    Field("weight_decay", "Weight decay", "float"),
    Field("checkpoint_every", "Checkpoint every (steps)", "int", minimum=-99,
          tip="0: only at the end and on stop"),
    Field("sample_every", "Samples every (steps)", "int", minimum=-99),
    Field("eval_every", "Validate every (steps)", "int", minimum=-99),
    Field("seed", "Seed", "int", minimum=-99),
)
FIELD_KEYS = tuple(f.key for f in FIELDS)


def error_field(message: str, values: Mapping[str, Any]) -> str | None:
    """The form key a backend validation message is about (the earliest key it names)."""
    if "tensor-parallel degree" in message:
        return "tp" if values.get("strategy") == "fsdp_tp" else "nproc"
    if message.startswith("device cuda") or "CUDA device" in message:
        return "nproc" if "nproc=" in message else "device"
    best: tuple[int, str] | None = None
    for key in FIELD_KEYS:
        leaf = key.split(".")[-1] if key.startswith("data.") else key
        for name in {key, leaf}:
            match = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), key)
    return best[1] if best else None


def format_pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_toml_value(v)}" for k, v in values.items())


def parse_pairs(text: str) -> dict[str, Any]:
    """``"n_layer=2, dropout=0.1"`` -> dict; values are read as TOML scalars where they can be."""
    import tomllib

    result: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{part!r} is not key=value")
        try:
            result[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            result[key.strip()] = raw.strip()
    return result


def _toml_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class ConfigForm(QWidget):
    """Editors for every training-config key, with an error line under each.

    Signals
    -------
    sig_changed()   any value was edited
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.error_labels: dict[str, QLabel] = {}
        self._extra: dict[str, Any] = {}  # keys of a loaded config the form has no editor for
        layout = QFormLayout()
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for field in FIELDS:
            editor = self._make_editor(field)
            editor.setObjectName(f"field_{field.key}")
            if field.tip:
                editor.setToolTip(field.tip)
            error = QLabel()
            error.setObjectName(f"error_{field.key}")
            error.setStyleSheet("color: #c0392b;")
            error.setWordWrap(True)
            error.hide()
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(1)
            cell_layout.addWidget(editor)
            cell_layout.addWidget(error)
            layout.addRow(field.label, cell)
            self.editors[field.key] = editor
            self.error_labels[field.key] = error
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(layout)

    def _make_editor(self, field: Field) -> QWidget:
        if field.kind == "choice":
            combo = QComboBox()
            combo.addItems(field.choices)
            combo.currentTextChanged.connect(lambda _t: self.sig_changed.emit())
            return combo
        if field.kind == "int":
            spin = QSpinBox()
            spin.setRange(field.minimum, 10_000_000)
            spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
            return spin
        line = QLineEdit()
        line.textChanged.connect(lambda _t: self.sig_changed.emit())
        return line

    # ------------------------------------------------------------ values

    def set_values(self, config: Mapping[str, Any]) -> None:
        """Fill the editors from a config dict (a preset or a run's config)."""
        flat = dict(config)
        data = dict(flat.pop("data", {}) or {})
        for key, value in data.items():
            flat[f"data.{key}"] = value
        self._extra = {k: v for k, v in flat.items() if k not in self.editors}
        for key, editor in self.editors.items():
            if key not in flat:
                continue
            value = flat[key]
            editor.blockSignals(True)
            if isinstance(editor, QComboBox):
                if editor.findText(str(value)) < 0:
                    editor.addItem(str(value))
                editor.setCurrentText(str(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif key == "model_config":
                editor.setText(format_pairs(value or {}))
            else:
                editor.setText(_toml_value(value) if not isinstance(value, str) else value)
            editor.blockSignals(False)
        self.sig_changed.emit()

    def values(self) -> dict[str, Any]:
        """The config dict the form shows; a field that cannot be read raises ValueError(key, msg)."""
        result: dict[str, Any] = {k: v for k, v in self._extra.items() if not k.startswith("data.")}
        data = {k[5:]: v for k, v in self._extra.items() if k.startswith("data.")}
        for field in FIELDS:
            editor = self.editors[field.key]
            if isinstance(editor, QComboBox):
                value: Any = editor.currentText()
            elif isinstance(editor, QSpinBox):
                value = editor.value()
            else:
                text = editor.text().strip()
                value = text
                if field.kind == "float":
                    try:
                        value = float(text)
                    except ValueError:
                        raise FormFieldError(field.key, f"{field.label} must be a number, "
                                             f"got {text!r}") from None
                elif field.kind == "pairs":
                    try:
                        value = parse_pairs(text)
                    except ValueError as exc:
                        raise FormFieldError(field.key, f"{field.label}: {exc}; write "
                                             "key=value pairs separated by commas") from None
            if field.key.startswith("data."):
                data[field.key[5:]] = value
            else:
                result[field.key] = value
        result["data"] = data
        return result

    # ------------------------------------------------------------ errors

    def show_error(self, key: str | None, message: str) -> None:
        """Show ``message`` under the field ``key`` (all other field errors are cleared)."""
        self.clear_errors()
        if key in self.error_labels:
            label = self.error_labels[key]
            label.setText(message)
            label.show()

    def clear_errors(self) -> None:
        for label in self.error_labels.values():
            label.clear()
            label.hide()

    def field_error(self, key: str) -> str:
        """The error shown under ``key`` ('' when none)."""
        label = self.error_labels[key]
        return label.text() if not label.isHidden() else ""


class FormFieldError(ValueError):
    """A form value that cannot even be read (not a number, bad key=value text)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
