"""Metric columns: a binary copy of a large run's records, so the Monitor opens it in a moment.

A run of 64 ranks × 100,000 steps holds over a gigabyte of JSON Lines;
parsing it every time the run is opened takes minutes and holding every point
takes gigabytes. For such runs, each rank's records are parsed once and
appended, per series ``(kind, field)``, to a file of float64 triplets
``(step, time, value)`` under ``metrics/.columns/rank_<r>/``, with an
``index.json`` that records how many bytes of the rank's JSON Lines file are
in and how many points each series file holds (written after the data, so a
crash in between is undone by truncating each file to its recorded length).
The JSON Lines files stay the truth: the columns can be deleted at any time.

- :meth:`RankColumns.overview`: a series reduced to its minimum and maximum
  per bucket (plus its last point), read one series at a time: what a plot
  needs, in memory proportional to what is shown.
- :meth:`RankColumns.read`: the full data of a step range, read on demand.
- :class:`ColumnReader`: like :class:`backends.runs.RunReader` for a large
  run: the history as overviews on the first poll, then new records as they
  are appended (and added to the columns, so the next opening is quick too).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from backends.monitor_data import RECORD_KEYS, _is_number, _with_derived
from backends.runs import JsonlTail, RunDir, RunUpdate

COLUMNS_DIR = ".columns"
INDEX = "index.json"
# Runs whose metrics files together exceed this open from columns (smaller ones are read whole).
LARGE_RUN_BYTES = 32 * 1024 * 1024
OVERVIEW_BUCKETS = 2048
_PARSE_SLICE = 16 * 1024 * 1024
_TRIPLET = 3

Columns = dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]


def metrics_bytes(run: RunDir) -> int:
    total = 0
    for path in run.metrics_files().values():
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def is_large(run: RunDir) -> bool:
    return metrics_bytes(run) > LARGE_RUN_BYTES


class RankColumns:
    """The column files of one rank, kept up to date with its JSON Lines file."""

    def __init__(self, run: RunDir, rank: int) -> None:
        self.run, self.rank = run, int(rank)
        self.folder = run.metrics_dir / COLUMNS_DIR / f"rank_{self.rank}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index = self._load_index()
        self._tail = JsonlTail(run.metrics_path(self.rank), offset=int(self.index["offset"]))

    # ------------------------------------------------------------ index

    def _load_index(self) -> dict[str, Any]:
        try:
            index = json.loads((self.folder / INDEX).read_text(encoding="utf-8"))
            if not isinstance(index, dict) or not isinstance(index.get("series"), list):
                raise ValueError("not an index")
        except (OSError, ValueError):
            for stale in self.folder.glob("*.f8"):
                stale.unlink()
            return {"offset": 0, "records": 0, "series": [], "last_step": None}
        for _kind, _name, file, points in index["series"]:  # undo an append the index never saw
            path = self.folder / file
            if path.exists() and path.stat().st_size > points * _TRIPLET * 8:
                os.truncate(path, points * _TRIPLET * 8)
        return index

    def _save_index(self) -> None:
        tmp = self.folder / f".{INDEX}.tmp"
        tmp.write_text(json.dumps(self.index), encoding="utf-8")
        os.replace(tmp, self.folder / INDEX)

    @property
    def offset(self) -> int:
        return int(self.index["offset"])

    @property
    def records(self) -> int:
        return int(self.index["records"])

    def series(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name, _file, _n in self.index["series"]]

    def _entry(self, kind: str, name: str) -> list[Any] | None:
        for entry in self.index["series"]:
            if entry[0] == kind and entry[1] == name:
                return entry
        return None

    # ------------------------------------------------------------ writing

    def update(self, collect: bool = True) -> list[dict[str, Any]]:
        """Parse what was appended to the rank's file since the last update; returns those
        records (none when ``collect`` is false: a first catch-up needs only the columns)."""
        try:
            size = self._tail.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self.offset:  # the file was replaced or truncated: the columns start again
            for stale in self.folder.glob("*.f8"):
                stale.unlink()
            self.index = {"offset": 0, "records": 0, "series": [], "last_step": None}
            self._tail = JsonlTail(self._tail.path)
        found: list[dict[str, Any]] = []
        while True:  # slice by slice: a long backlog never sits in memory whole
            records = self._read_new()
            if records:
                self.append(records)
                if collect:
                    found.extend(records)
                continue
            if self._tail.offset != self.offset:  # only blank or skipped lines
                self.index["offset"] = self._tail.offset
                self._save_index()
            return found

    def _read_new(self) -> list[dict[str, Any]]:
        """The new complete records: a whole slice parsed as one JSON array (many times faster
        than line by line); a slice with a bad or blank line is read line by line instead."""
        path, start = self._tail.path, self._tail.offset
        try:
            with open(path, "rb") as f:
                f.seek(start)
                chunk = f.read(_PARSE_SLICE)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return self._tail.read_new()
        try:
            records = json.loads(b"[" + chunk[:end].replace(b"\n", b",") + b"]")
        except ValueError:
            return self._tail.read_new()
        if not all(isinstance(r, dict) for r in records):
            return self._tail.read_new()
        self._tail.offset = start + end + 1
        return records

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add parsed records to the columns (records of one shape are converted in bulk)."""
        columns: dict[tuple[str, str], list[Any]] = {}
        count, last_step = 0, self.index.get("last_step")
        groups: dict[tuple[Any, tuple[str, ...]], list[Mapping[str, Any]]] = {}
        for record in records:
            groups.setdefault((record.get("kind", "train"), tuple(record)), []).append(record)
        slow: list[Mapping[str, Any]] = []
        for (kind, keys), group in groups.items():
            fields = [k for k in keys if k not in RECORD_KEYS]
            first = group[0]
            if (kind == "memory" or "step" not in keys or "t" not in keys
                    or not all(_is_number(first[k]) for k in ("step", "t", *fields))):
                slow.extend(group)
                continue
            try:
                table = np.array(list(map(itemgetter("step", "t", *fields), group)), dtype=np.float64)
            except (TypeError, ValueError):
                slow.extend(group)
                continue
            table = table.reshape(len(group), 2 + len(fields))
            count += len(group)
            for j, name in enumerate(fields):
                columns.setdefault((str(kind), name), []).append(table[:, [0, 1, 2 + j]])
            if kind != "memory" and len(group):
                top = int(table[:, 0].max())
                last_step = top if last_step is None else max(last_step, top)
        for record in slow:
            step, t = record.get("step"), record.get("t")
            if not _is_number(step) or not _is_number(t):
                continue
            kind = str(record.get("kind", "train"))
            count += 1
            for name, value in _with_derived(kind, record):
                if name in RECORD_KEYS or not _is_number(value):
                    continue
                columns.setdefault((kind, name), []).append(np.array([[step, t, value]], dtype=np.float64))
            if kind != "memory" and (last_step is None or step > last_step):
                last_step = int(step)
        for (kind, name), parts in columns.items():
            entry = self._entry(kind, name)
            if entry is None:
                entry = [kind, name, f"s{len(self.index['series']):04d}.f8", 0]
                self.index["series"].append(entry)
            block = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if block.shape[0] > 1 and np.any(np.diff(block[:, 0]) < 0):  # groups interleave: step order
                block = block[np.argsort(block[:, 0], kind="stable")]
            with open(self.folder / entry[2], "ab") as f:
                f.write(np.ascontiguousarray(block).tobytes())
            entry[3] += block.shape[0]
        self.index["records"] = self.records + count
        self.index["last_step"] = last_step
        self.index["offset"] = self._tail.offset
        self._save_index()

    # ------------------------------------------------------------ reading

    def _points(self, kind: str, name: str) -> np.ndarray:
        entry = self._entry(kind, name)
        if entry is None:
            return np.empty((0, _TRIPLET))
        data = np.fromfile(self.folder / entry[2], dtype=np.float64, count=entry[3] * _TRIPLET)
        return data.reshape(-1, _TRIPLET)

    def read(self, kind: str, name: str, first_step: float = -np.inf,
             last_step: float = np.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every point of a series between two steps (full resolution, read on demand)."""
        points = self._points(kind, name)
        keep = (points[:, 0] >= first_step) & (points[:, 0] <= last_step)
        chosen = points[keep]
        return chosen[:, 0].copy(), chosen[:, 1].copy(), chosen[:, 2].copy()

    def overview(self, kind: str, name: str, buckets: int = OVERVIEW_BUCKETS
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The series reduced to the lowest and highest point of each bucket, and its last point.

        A plot of it shows every spike the full series has (as pyqtgraph's
        "peak" downsampling would), from at most ``2 * buckets + 1`` points.
        """
        points = self._points(kind, name)
        return decimate(points, buckets)

    def overviews(self, buckets: int = OVERVIEW_BUCKETS) -> Columns:
        """Every series' overview; kept on disk for the offset it was made at, so a run that did
        not grow since (a finished one) reopens without reading its columns at all."""
        path = self.folder / f"overview-{int(buckets)}.npz"
        try:
            with np.load(path) as saved:
                if int(saved["offset"]) == self.offset and int(saved["count"]) == len(self.series()):
                    return {key: (saved[f"{i}s"], saved[f"{i}t"], saved[f"{i}v"])
                            for i, key in enumerate(self.series())}
        except (OSError, ValueError, KeyError):
            pass
        found = {key: self.overview(*key, buckets=buckets) for key in self.series()}
        arrays: dict[str, np.ndarray] = {"offset": np.array(self.offset),
                                         "count": np.array(len(found))}
        for i, (steps, times, values) in enumerate(found.values()):
            arrays.update({f"{i}s": steps, f"{i}t": times, f"{i}v": values})
        tmp = self.folder / f".overview-{int(buckets)}.tmp.npz"
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except OSError:
            pass  # a full disk: the overview is simply made again next time
        return found


def decimate(points: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min and max (by value) of each of ``buckets`` runs of points, in order, plus the last one."""
    n = points.shape[0]
    if n <= 2 * buckets + 1:
        return points[:, 0].copy(), points[:, 1].copy(), points[:, 2].copy()
    size = -(-n // buckets)
    full = n // size
    values = points[: full * size, 2].reshape(full, size)
    base = np.arange(full) * size
    low, high = base + values.argmin(axis=1), base + values.argmax(axis=1)
    pairs = np.stack([np.minimum(low, high), np.maximum(low, high)], axis=1).ravel()  # in order
    chosen = np.concatenate([pairs, np.arange(full * size, n)])
    if chosen[-1] != n - 1:
        chosen = np.append(chosen, n - 1)
    picked = points[chosen]
    return picked[:, 0].copy(), picked[:, 1].copy(), picked[:, 2].copy()


class ColumnReader:
    """Follows a large run: its history as overviews once, then the records appended after it."""

    def __init__(self, run: RunDir, buckets: int = OVERVIEW_BUCKETS) -> None:
        self.run = run
        self.buckets = buckets
        self._events = JsonlTail(run.events_path)
        self._ranks: dict[int, RankColumns] = {}
        (run.metrics_dir / COLUMNS_DIR).mkdir(parents=True, exist_ok=True)  # OSError: read-only

    def poll(self) -> tuple[RunUpdate, dict[int, tuple[Columns, int, int | None]]]:
        """New events and records; for ranks seen for the first time, (overviews, records, last step)."""
        update = RunUpdate(events=self._events.read_new())
        history: dict[int, tuple[Columns, int, int | None]] = {}
        for rank in self.run.metrics_files():
            columns = self._ranks.get(rank)
            if columns is None:
                columns = self._ranks[rank] = RankColumns(self.run, rank)
                columns.update(collect=False)
                history[rank] = (columns.overviews(self.buckets), columns.records,
                                 columns.index.get("last_step"))
                continue
            records = columns.update()
            if records:
                update.metrics[rank] = records
        problems = self._events.bad_lines + [p for c in self._ranks.values() for p in c._tail.bad_lines]
        update.problems = problems
        for tail in [self._events, *(c._tail for c in self._ranks.values())]:
            tail.bad_lines.clear()
        return update, history

    def rank_columns(self, rank: int) -> RankColumns | None:
        return self._ranks.get(rank)


def columns_path(run: RunDir) -> Path:
    return run.metrics_dir / COLUMNS_DIR
