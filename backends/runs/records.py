"""Records in a run folder: appending them with one write, and tailing them from an offset.

Every record is appended with a single ``write`` on a file opened with
``O_APPEND``, so it reaches the file when written (nothing is buffered in the
process) and lines from concurrent writers never interleave. Readers tail the
files from a byte offset: a line without its newline yet (a torn write, or a
writer that died mid-line) is held back and picked up once it is complete; a
complete line that is not JSON is skipped and reported, never fatal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the folder module writes its "created" event with this one
    from backends.runs.folder import RunDir

# Lifecycle event kinds. The last terminal event decides a run's status.
TERMINAL_EVENTS = ("finished", "stopped", "killed", "failed")

# One read never pulls more than this into memory; a 1 GB log is read in slices.
_READ_SLICE = 16 * 1024 * 1024


def append_jsonl(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as one line with a single write (see the module docstring)."""
    line = (json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def record_event(run: RunDir, kind: str, **fields: Any) -> dict[str, Any]:
    """Append a lifecycle event (``created``, ``started``, ``checkpoint``, ``failed``...)."""
    event = {"t": time.time(), "kind": kind, **fields}
    append_jsonl(run.events_path, event)
    return event


@dataclass
class JsonlTail:
    """Reads the records appended to a JSON Lines file since the last call.

    ``offset`` is the byte position of the first line not yet returned; a
    reader can be re-created from a stored offset and will not start over.
    """

    path: Path
    offset: int = 0
    bad_lines: list[str] = field(default_factory=list)

    def read_new(self) -> list[dict[str, Any]]:
        """Every complete record written since the last call, in file order."""
        records: list[dict[str, Any]] = []
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # the file was replaced or truncated: start again
                    self.offset = 0
                while self.offset < size:
                    f.seek(self.offset)
                    chunk = f.read(min(_READ_SLICE, size - self.offset))
                    end = chunk.rfind(b"\n")
                    if end < 0:
                        if len(chunk) >= _READ_SLICE:  # a single line longer than a slice
                            self._reject(self.offset, "line longer than 16 MiB")
                            self.offset += len(chunk)
                            continue
                        break  # only a torn last line: wait for the rest of it
                    self._parse(chunk[: end + 1], self.offset, records)
                    self.offset += end + 1
        except FileNotFoundError:
            pass
        return records

    def _parse(self, block: bytes, start: int, out: list[dict[str, Any]]) -> None:
        position = start
        for raw in block.split(b"\n")[:-1]:
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    out.append(record)
                else:
                    self._reject(position, "not a JSON object")
            position += len(raw) + 1

    def _reject(self, position: int, why: str) -> None:
        self.bad_lines.append(f"{self.path.name}: skipped a line at byte {position}: {why}")


@dataclass
class RunUpdate:
    """What a :class:`RunReader` found since its previous poll."""

    metrics: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.metrics or self.events or self.problems)


class RunReader:
    """Tails a run's events and every rank's metrics, including ranks that appear later."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self._events = JsonlTail(run.events_path)
        self._metrics: dict[int, JsonlTail] = {}
        self._reported_problems = 0

    def offsets(self) -> dict[str, int]:
        """Byte offsets reached, by file name (to resume reading elsewhere)."""
        result = {self._events.path.name: self._events.offset}
        result.update({tail.path.name: tail.offset for tail in self._metrics.values()})
        return result

    def poll(self) -> RunUpdate:
        update = RunUpdate(events=self._events.read_new())
        for rank, path in self.run.metrics_files().items():
            tail = self._metrics.setdefault(rank, JsonlTail(path))
            records = tail.read_new()
            if records:
                update.metrics[rank] = records
        problems = self._events.bad_lines + [
            p for tail in self._metrics.values() for p in tail.bad_lines
        ]
        update.problems = problems[self._reported_problems :]
        self._reported_problems = len(problems)
        return update


def read_events(run: RunDir) -> list[dict[str, Any]]:
    """All lifecycle events of a run, oldest first."""
    return JsonlTail(run.events_path).read_new()


def status_from_events(events: Iterable[Mapping[str, Any]]) -> str:
    """What the events alone say: ``created``, ``running`` or the last ending.

    This does not check whether the run's processes live: for the state to
    show, use :func:`backends.launch.run_state`.
    """
    status = "unknown"
    for event in events:
        kind = event.get("kind")
        if kind == "created" and status == "unknown":
            status = "created"
        elif kind == "started":
            status = "running"
        elif kind in TERMINAL_EVENTS:
            status = "killed" if kind == "stopped" and event.get("killed") else str(kind)
    return status
