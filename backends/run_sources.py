"""Which reader reads a folder: a workbench run folder, or a folder of TensorBoard event files.

The run watcher and the Monitor ask here instead of assuming a run folder,
so a TensorBoard log is followed, plotted and previewed like a run: both
readers have ``poll()`` returning a :class:`backends.runs.RunUpdate`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backends.monitor_data import SAMPLE_SUFFIXES, latest_sample
from backends.runs import CONFIG_FILE, EVENTS_FILE, RunDir, RunReader, RunUpdate
from backends.tensorboard import is_tensorboard_run


def open_reader(folder: str | os.PathLike[str]) -> Any:
    """A ``RunReader`` for a run folder, a ``TensorBoardReader`` for a log folder.

    A folder that is neither yet (watched before its writer starts) gets a
    reader that decides at the first poll that finds out.
    """
    path = Path(folder)
    if is_tensorboard_run(path):
        from backends.tensorboard.reader import TensorBoardReader

        return TensorBoardReader(path)
    if (path / CONFIG_FILE).exists() or (path / EVENTS_FILE).exists():
        return RunReader(RunDir(path))
    return _Undecided(path)


class _Undecided:
    """Polls as an empty run until the folder shows what it is, then reads as that."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: Any = None

    def poll(self) -> RunUpdate:
        if self._reader is None:
            if not is_tensorboard_run(self.path) and not (self.path / CONFIG_FILE).exists() \
                    and not (self.path / EVENTS_FILE).exists():
                return RunUpdate()
            self._reader = open_reader(self.path)
        return self._reader.poll()


def latest_sample_of(folder: str | os.PathLike[str]) -> Path | None:
    """The newest sample a run wrote, or the newest image a TensorBoard log held."""
    path = Path(folder)
    if not is_tensorboard_run(path):
        return latest_sample(RunDir(path))
    from backends.tensorboard.reader import sample_folder

    newest: tuple[float, str] | None = None
    found: Path | None = None
    try:
        entries = list(os.scandir(sample_folder(path)))
    except OSError:
        return None
    for entry in entries:
        if entry.name.lower().endswith(SAMPLE_SUFFIXES) and not entry.name.startswith("."):
            key = (entry.stat().st_mtime, entry.name)
            if newest is None or key > newest:
                newest, found = key, Path(entry.path)
    return found
