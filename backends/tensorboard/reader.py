"""A folder of TensorBoard event files read as a run, live and incrementally.

A TensorBoard run is a folder holding ``events.out.tfevents.*`` files (what
``SummaryWriter(log_dir)``, HF ``Trainer(report_to="tensorboard")`` and
Lightning's ``TensorBoardLogger`` write); sub-folders are runs of their own,
as in TensorBoard. :class:`TensorBoardReader` has the ``poll()`` of
:class:`backends.runs.RunReader`, so the run watcher and the Monitor follow
it like a workbench run: each poll reads only the bytes appended to each file
since the last (a file that appears later is picked up; a torn last record
waits), and returns the scalars as rank-0 metric records. The newest image of
each tag is written as a PNG into a cache folder for the sample preview
(:func:`sample_folder`): a log folder is never written into.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, cast

from backends.monitor_data import RecordColumns
from backends.runs import RunUpdate
from backends.tensorboard.events import EventDecoder
from backends.tensorboard.records import RecordTail

EVENT_FILE_MARK = "tfevents"
CACHE_ENV = "WORKBENCH_CACHE_DIR"


def event_files(folder: Path) -> list[Path]:
    """The event files directly in ``folder``, oldest name first (names start with the time)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(Path(e.path) for e in entries
                  if e.name.startswith("events.out.") and EVENT_FILE_MARK in e.name and e.is_file())


def is_tensorboard_folder(folder: Path) -> bool:
    return bool(event_files(folder))


def cache_root() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "workbench"


def sample_folder(folder: Path) -> Path:
    """Where the newest images of a TensorBoard run are kept as PNG files for the preview."""
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]
    return cache_root() / "tensorboard-samples" / key


class TensorBoardReader:
    """Tails every event file of one TensorBoard run folder; see the module docstring."""

    def __init__(self, folder: str | os.PathLike[str], *, check_crc: bool = True,
                 write_samples: bool = True) -> None:
        self.folder = Path(folder)
        self.check_crc = check_crc
        self.write_samples = write_samples
        self._tails: dict[Path, RecordTail] = {}
        self._decoder: EventDecoder | None = None  # made on first read: needs the extra
        self._reported = 0
        self._saved: dict[str, int] = {}

    def offsets(self) -> dict[str, int]:
        return {path.name: tail.offset for path, tail in self._tails.items()}

    def read_records(self) -> RecordColumns | list[dict[str, Any]]:
        """The values appended since the last call (every file, in name order), as columns."""
        batches: list[RecordColumns] = []
        for path in event_files(self.folder):
            tail = self._tails.get(path)
            if tail is None:
                tail = self._tails[path] = RecordTail(path, check_crc=self.check_crc)
            payloads = tail.read_new()
            if payloads:
                if self._decoder is None:
                    self._decoder = EventDecoder()
                batch = self._decoder.decode(payloads)
                if batch:
                    batches.append(batch)
        if not batches:
            return []
        return batches[0] if len(batches) == 1 else RecordColumns.concat(batches)

    def poll(self) -> RunUpdate:
        records = self.read_records()
        # A RecordColumns batch stands in for the list of records (it iterates as records).
        update = RunUpdate(metrics={0: cast(list[dict[str, Any]], records)} if records else {})
        problems = [p for tail in self._tails.values() for p in tail.problems]
        update.problems = problems[self._reported :]
        self._reported = len(problems)
        if self.write_samples:
            self._save_images()
        return update

    def _save_images(self) -> None:
        if self._decoder is None:
            return
        fresh = {tag: image for tag, image in self._decoder.images.items()
                 if self._saved.get(tag) != image.step}
        if not fresh:
            return
        folder = sample_folder(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        for tag, image in fresh.items():
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
            suffix = ".jpg" if image.encoded[:2] == b"\xff\xd8" else ".png"
            path = folder / f"step_{image.step:07d}_{safe}{suffix}"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(image.encoded)
            os.replace(tmp, path)
            self._saved[tag] = image.step
