"""Persistent settings of the application (window layout, theme, runs folder).

Stored with ``QSettings`` in an INI file: ``$WORKBENCH_SETTINGS`` when set (the
tests point it at a temporary file), else the platform's config location.
Every value is read through a typed getter that checks it: a corrupt file or a
value of the wrong kind is set aside (the file is kept as ``*.corrupt``), the
default is used, and the problem is reported once in ``problems`` so the GUI
can say so. Settings never stop the application from starting.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

THEMES = ("light", "dark")
DEFAULT_THEME = "light"


def settings_file() -> Path:
    """Where settings live: ``$WORKBENCH_SETTINGS`` or the platform's config folder."""
    override = os.environ.get("WORKBENCH_SETTINGS")
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "workbench" / "workbench.ini"


class AppSettings:
    """Typed access to the settings file; problems are collected, never raised."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_file()
        self.problems: list[str] = []
        self._qsettings = self._open()

    def _open(self) -> QSettings:
        settings = QSettings(str(self.path), QSettings.Format.IniFormat)
        if settings.status() != QSettings.Status.NoError:
            del settings
            backup = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            try:
                self.path.replace(backup)
                kept = f"; the old file is kept as {backup}"
            except OSError:
                kept = ""
            self.problems.append(f"settings file {self.path} was unreadable and was reset{kept}")
            settings = QSettings(str(self.path), QSettings.Format.IniFormat)
        return settings

    # ------------------------------------------------------------ typed values

    def _bad_value(self, key: str, value: object, default: object) -> None:
        self.problems.append(
            f"setting {key!r} had an unusable value {value!r}; using {default!r} instead"
        )
        self._qsettings.remove(key)

    def text(self, key: str, default: str, allowed: tuple[str, ...] | None = None) -> str:
        value = self._qsettings.value(key, default)
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            self._bad_value(key, value, default)
            return default
        return value

    def blob(self, key: str) -> QByteArray | None:
        value = self._qsettings.value(key)
        if value is None:
            return None
        if not isinstance(value, QByteArray | bytes):
            self._bad_value(key, value, None)
            return None
        return QByteArray(value)

    def set(self, key: str, value: object) -> None:
        self._qsettings.setValue(key, value)

    def remove(self, key: str) -> None:
        self._qsettings.remove(key)

    def sync(self) -> None:
        self._qsettings.sync()

    # ------------------------------------------------------------ named settings

    @property
    def theme(self) -> str:
        return self.text("view/theme", DEFAULT_THEME, THEMES)

    @theme.setter
    def theme(self, value: str) -> None:
        self.set("view/theme", value)

    @property
    def runs_dir(self) -> Path:
        return Path(self.text("runs/folder", "runs"))

    @runs_dir.setter
    def runs_dir(self, value: Path) -> None:
        self.set("runs/folder", str(value))
