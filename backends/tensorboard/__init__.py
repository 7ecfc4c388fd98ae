"""TensorBoard logs in and out: folders of event files read as runs, runs exported as event files.

- ``records``: the TFRecord framing, tailed from a byte offset, CRC-checked.
- ``events``: tensorboard's ``Event`` protos turned into the workbench's
  metric records (both scalar encodings) and images.
- ``reader``: a log folder read as a run, live (the ``poll()`` of ``RunReader``).
- ``export``: a workbench run written as event files TensorBoard reads.

Finding log folders (:func:`find_runs`) needs nothing beyond the standard
library, so the runs list shows them without the extra; reading and writing
them needs ``pip install 'workbench[tensorboard]'`` (tensorboard's protos and
``google-crc32c``), and says so when it is missing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from backends.runs import CONFIG_FILE, EVENTS_FILE, RunSummary
from backends.tensorboard.reader import event_files, is_tensorboard_folder

SOURCE = "tensorboard"
# A writer flushes at least every 120 s by default: a log written to within that is live.
LIVE_WITHIN_S = 120.0
MAX_DEPTH = 4  # runs/<experiment>/<run>/<version>: deep enough for HF and Lightning layouts


def is_tensorboard_run(folder: str | os.PathLike[str]) -> bool:
    """A folder with event files that is not a workbench run folder."""
    path = Path(folder)
    if (path / CONFIG_FILE).exists() or (path / EVENTS_FILE).exists():
        return False
    return is_tensorboard_folder(path)


def summarize(folder: Path, name: str) -> RunSummary:
    """A runs-list line for a TensorBoard run: ``live`` if written recently, else ``idle``."""
    files = event_files(folder)
    newest = 0.0
    for path in files:
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    return RunSummary(
        name=name, path=folder, status="live" if time.time() - newest < LIVE_WITHIN_S else "idle",
        created=_created(files[0]) if files else None, source=SOURCE,
    )


def find_runs(runs_dir: str | os.PathLike[str], skip: set[Path] | frozenset = frozenset()
              ) -> list[RunSummary]:
    """Every folder under ``runs_dir`` holding event files, named by its relative path.

    Workbench run folders (and what is inside them) and hidden folders are
    not searched; folders in ``skip`` neither.
    """
    root = Path(runs_dir).expanduser()
    found: list[RunSummary] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = [e for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")]
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if path in skip or (path / CONFIG_FILE).exists() or (path / EVENTS_FILE).exists():
                continue
            if is_tensorboard_folder(path):
                found.append(summarize(path, path.relative_to(root).as_posix()))
            if depth + 1 < MAX_DEPTH:
                stack.append((path, depth + 1))
    return found


def _created(path: Path) -> float | None:
    # events.out.tfevents.<unix time>.<host>...: the writer's start time.
    try:
        return float(path.name.split(".")[3])
    except (IndexError, ValueError):
        try:
            return path.stat().st_mtime
        except OSError:
            return None
