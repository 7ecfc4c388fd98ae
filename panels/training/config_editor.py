"""The launcher's form side: presets, the config form (or "Your script"), and the check of each edit.

Every edit is checked by the launch service's preview
(``backends.launch.preview``) on a worker (it imports torch, which the GUI
thread never waits for), a moment after the last keystroke. The answer goes
out as ``sig_checked`` and its error appears under the field it names; the
built-in form's values go out as they are typed (``sig_values``) for the
planner and the size sweep, which need no valid run name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backends.launch.preview import LaunchPreview
from backends.runs import write_toml_atomic
from panels.training.form import ConfigForm, FormFieldError, error_field
from panels.training.presets import DEFAULT_PRESET, list_presets, with_defaults
from panels.training.script_form import SCRIPT_PRESET, ScriptForm, script_error_field
from workbench.context import AppContext
from workbench.tasks import TaskRunner

# Edits are checked this long after the last keystroke.
_VALIDATE_DELAY_MS = 150


def check_train_form(values: dict[str, Any], runs_dir: Path, gpu_count: int) -> LaunchPreview:
    """The preview of the config form's values, its error on the form field it names (worker)."""
    from backends.launch.preview import preview_train

    preview = preview_train(values, runs_dir, gpu_count)
    if not preview.valid and preview.error_key is None:
        preview.error_key = error_field(preview.error, values)
    return preview


def check_script_form(values: dict[str, Any], runs_dir: Path) -> LaunchPreview:
    """The preview of the "Your script" form's values, its error on the field it names (worker)."""
    from backends.launch.preview import preview_script

    preview = preview_script(values, runs_dir)
    if not preview.valid and preview.error_key is None:
        preview.error_key = script_error_field(preview.error)
    return preview


class ConfigEditor(QWidget):
    """Preset picker, the two forms and the debounced check; see the module docstring.

    Signals
    -------
    sig_pending()            an edit was made: a check follows
    sig_checked(object)      the newest values were checked (a LaunchPreview)
    sig_values(object)       the config form's values as typed (a dict)
    sig_script_mode(bool)    the "Your script" form was switched on or off
    """

    sig_pending = Signal()
    sig_checked = Signal(object)
    sig_values = Signal(object)
    sig_script_mode = Signal(bool)

    def __init__(self, context: AppContext, runner: TaskRunner, gpu_count: Callable[[], int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._tasks = runner
        self._gpu_count = gpu_count
        self._presets: dict[str, Path] = {}
        self._debounce = QTimer(self, singleShot=True, interval=_VALIDATE_DELAY_MS)
        self._debounce.timeout.connect(self._check_now)

        self.form = ConfigForm()
        self.form.sig_changed.connect(self.schedule_check)
        self.script_form = ScriptForm()
        self.script_form.setObjectName("script_form")
        self.script_form.sig_changed.connect(self.schedule_check)
        self.script_form.hide()
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("preset_box")
        self.preset_box.activated.connect(lambda _i: self.load_preset(self.preset_box.currentText()))
        self.save_preset_button = QPushButton("Save as preset…")
        self.save_preset_button.clicked.connect(self._ask_save_preset)
        self.form_status = QLabel()
        self.form_status.setObjectName("form_status")
        self.form_status.setWordWrap(True)

        presets_row = QHBoxLayout()
        presets_row.addWidget(QLabel("Preset"))
        presets_row.addWidget(self.preset_box, 1)
        presets_row.addWidget(self.save_preset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(presets_row)
        layout.addWidget(self.form)
        layout.addWidget(self.script_form)
        layout.addWidget(self.form_status)

    # ------------------------------------------------------------ presets

    @property
    def user_presets_dir(self) -> Path:
        return self.context.settings.path.parent / "presets"

    def refresh_presets(self) -> None:
        current = self.preset_box.currentText()
        self._presets = list_presets(self.user_presets_dir)
        self.preset_box.clear()
        self.preset_box.addItems([*self._presets, SCRIPT_PRESET])
        if current in self._presets or current == SCRIPT_PRESET:
            self.preset_box.setCurrentText(current)

    def load_first_preset(self) -> None:
        """Start from the default preset (or the first there is)."""
        if self._presets:
            self.load_preset(DEFAULT_PRESET if DEFAULT_PRESET in self._presets
                             else next(iter(self._presets)))

    @property
    def script_mode(self) -> bool:
        """Whether the launcher is set to run the user's own script."""
        return not self.script_form.isHidden()

    def _set_script_mode(self, on: bool) -> None:
        self.script_form.setVisible(on)
        self.form.setVisible(not on)
        self.save_preset_button.setEnabled(not on)  # presets hold built-in configs
        self.sig_script_mode.emit(on)

    def load_preset(self, name: str) -> None:
        if name == SCRIPT_PRESET:
            self.preset_box.setCurrentText(name)
            self._set_script_mode(True)
            self.schedule_check()
            return
        path = self._presets.get(name)
        if path is None:
            return
        self._set_script_mode(False)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            self.context.show_error(f"preset {path} cannot be read ({exc}): fix or delete it")
            return
        values.setdefault("name", name)
        self.preset_box.setCurrentText(name)
        self.form.set_values(with_defaults(values))

    def save_preset(self, name: str) -> Path | None:
        try:
            values = self.form.values()
        except FormFieldError as exc:
            self.form.show_error(exc.key, str(exc))
            return None
        self.user_presets_dir.mkdir(parents=True, exist_ok=True)
        path = self.user_presets_dir / f"{name}.toml"
        values.pop("resume", None)
        write_toml_atomic(path, values)
        self.refresh_presets()
        self.preset_box.setCurrentText(name)
        self.context.show_status(f"Saved preset {name} to {path}")
        return path

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name")
        if ok and name.strip():
            self.save_preset(name.strip())

    # ------------------------------------------------------------ checking

    def schedule_check(self) -> None:
        """Check the form a moment after the last edit."""
        self.sig_pending.emit()
        self._debounce.start()

    def _check_now(self) -> None:
        if self.script_mode:
            try:
                script_values = self.script_form.values()
            except FormFieldError as exc:
                self._show_check(LaunchPreview(None, str(exc), exc.key))
                return
            self._tasks.submit(check_script_form, script_values, self.context.runs_dir,
                               on_done=self._show_check, on_error=self._check_failed,
                               supersede=True)
            return
        try:
            values = self.form.values()
        except FormFieldError as exc:
            self._show_check(LaunchPreview(None, str(exc), exc.key))
            return
        # The plan needs no valid run name: it follows the model and layout as they are typed.
        self.sig_values.emit(values)
        self._tasks.submit(check_train_form, values, self.context.runs_dir, self._gpu_count(),
                           on_done=self._show_check, on_error=self._check_failed, supersede=True)

    def _check_failed(self, exc: BaseException, _details: str) -> None:
        self._show_check(LaunchPreview(None, str(exc)))

    def _show_check(self, preview: LaunchPreview) -> None:
        form = self.script_form if self.script_mode else self.form
        if preview.valid:
            form.clear_errors()
            self.form_status.setText("")
        else:
            form.show_error(preview.error_key, preview.error)
            self.form_status.setText("" if preview.error_key else preview.error)
        self.sig_checked.emit(preview)

    def offer_next_name(self, used: str) -> None:
        """The launched name is taken now: put the next free one in the form."""
        from backends.launch.service import next_free_name

        if self.script_mode:
            self.script_form.name_edit.setText(next_free_name(self.context.runs_dir, used))
            self.schedule_check()
            return
        try:
            values = self.form.values()
        except FormFieldError:
            self.schedule_check()
            return
        if values.get("name") == used or not values.get("name"):
            values["name"] = next_free_name(self.context.runs_dir, used)
            self.form.set_values(values)
        self.schedule_check()

    def is_busy(self) -> bool:
        """Whether an edit still waits for its check."""
        return self._debounce.isActive() or self._tasks.is_busy()

    def shutdown(self) -> None:
        self._debounce.stop()
        self._tasks.shutdown()
