"""Metric columns: a binary copy of a rank's records with min/max levels, so a large run opens fast.

A run of 64 ranks × 100,000 steps holds over a gigabyte of JSON Lines;
parsing it when the run is opened takes minutes. So the numbers are also kept
as binary columns under ``metrics/.columns/rank_<r>/``, written by the rank's
own :class:`~backends.runs.MetricsWriter` as it logs (a second after each
record at most), or built once by a reader for a run nobody writes (one made
by an older version, or whose rank died between two flushes)::

    index.json     offset (bytes of rank_<r>.jsonl covered), records, last step, the
                   levels' block size, series: [kind, field, file, points]
    s0003.f8       float64 triplets (step, time, value), in file order
    s0003.L1.f8    level 1: per block of 16 points, its lowest and highest point
    s0003.L2.f8    level 2: the same per block of 16 level-1 blocks (256 points)
    s0003.L3.f8    level 3: per 4,096 points; L4: per 65,536; L5: per 1,048,576
    .lock          flock held by whoever appends (the writer while its rank runs)

Data is written before the index, and the index is replaced atomically, so a
crash in between is undone by truncating each file to what the index counts.
The JSON Lines files stay the truth: the columns can be deleted at any time.

Reading costs what is shown, not what was logged: :meth:`RankColumns.overview`
reads the coarsest level that still has enough blocks, plus the finer levels
and raw points after its last complete block; :meth:`RankColumns.read` reads a
step range at full resolution on demand (a zoomed-in plot).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from backends.runs.column_blocks import to_blocks
from backends.runs.decimation import Arrays, decimate, extreme_pairs, without_repeats
from backends.runs.folder import RunDir
from backends.runs.records import JsonlTail

COLUMNS_DIR = ".columns"
INDEX = "index.json"
LOCK = ".lock"
OVERVIEW_BUCKETS = 2048
BLOCK = 16  # points per level-1 block; each level's block is 16 of the level below
LEVELS = 5  # up to blocks of 16**5 = 1,048,576 points
# An overview reads the coarsest level with at least this share of the buckets as blocks: every
# block's lowest and highest point are drawn, so a quarter of a plot's width still shows the
# curve's envelope, and a zoom reads every point anyway.
MIN_BLOCKS_PER_BUCKET = 1 / 8
_PARSE_SLICE = 16 * 1024 * 1024
_TRIPLET = 3
_TRIPLET_BYTES = _TRIPLET * 8

Columns = dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _empty_index() -> dict[str, Any]:
    return {"offset": 0, "records": 0, "series": [], "last_step": None, "block": BLOCK}


def _level_points(points: int, level: int) -> int:
    """How many points level ``level`` holds for ``points`` raw points (two per full block)."""
    return 2 * (points // BLOCK**level)


class RankColumns:
    """The column files of one rank.

    Reading needs no lock. Appending needs the folder's lock: :meth:`try_lock`
    takes it (without waiting) and reloads the index, repairing what a crash
    left half-written; :meth:`update` takes it by itself when it can.
    """

    def __init__(self, run: RunDir, rank: int) -> None:
        self.run, self.rank = run, int(rank)
        self.folder = run.metrics_dir / COLUMNS_DIR / f"rank_{self.rank}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        self.index = self._read_index()
        self._tail = JsonlTail(run.metrics_path(self.rank), offset=self.offset)

    # ------------------------------------------------------------ index and lock

    def _read_index(self) -> dict[str, Any]:
        try:
            index = json.loads((self.folder / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _empty_index()
        if not isinstance(index, dict) or not isinstance(index.get("series"), list):
            return _empty_index()
        return index

    def try_lock(self) -> bool:
        """Become the appender if nobody else is; the index is then reloaded and repaired."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self.index = self._read_index()
        self._repair()
        self._tail = JsonlTail(self._tail.path, offset=self.offset)
        return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def _repair(self) -> None:
        """Cut every file back to what the index counts; make levels a crash left short."""
        if not (self.folder / INDEX).exists():
            for stale in self.folder.glob("*.f8"):
                stale.unlink()
            return
        remade = self.index.get("block") != BLOCK
        if remade:  # levels of another block size (or none): made again below
            for stale in self.folder.glob("*.L*.f8"):
                stale.unlink()
            self.index["block"] = BLOCK
        for _kind, _name, file, points in self.index["series"]:
            self._cut(self.folder / file, points)
            for level in range(1, LEVELS + 1):
                path = self._level_path(file, level)
                want = _level_points(points, level)
                if self._size_points(path) < want:
                    self._cut(path, 0)
                    self._extend_level(file, level, 0, points)
                else:
                    self._cut(path, want)
        if remade:
            self._save_index()  # readers use the levels from now on

    @staticmethod
    def _cut(path: Path, points: int) -> None:
        if path.exists() and path.stat().st_size > points * _TRIPLET_BYTES:
            os.truncate(path, points * _TRIPLET_BYTES)

    @staticmethod
    def _size_points(path: Path) -> int:
        try:
            return path.stat().st_size // _TRIPLET_BYTES
        except FileNotFoundError:
            return 0

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

    @property
    def last_step(self) -> int | None:
        last = self.index.get("last_step")
        return None if last is None else int(last)

    def series(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name, _file, _n in self.index["series"]]

    def _entry(self, kind: str, name: str) -> list[Any] | None:
        for entry in self.index["series"]:
            if entry[0] == kind and entry[1] == name:
                return entry
        return None

    def _level_path(self, file: str, level: int) -> Path:
        return self.folder / (file if level == 0 else file.replace(".f8", f".L{level}.f8"))

    # ------------------------------------------------------------ appending

    def update(self, collect: bool = True) -> list[dict[str, Any]]:
        """Add what was appended to the rank's file since the index's offset; returns those
        records (none when ``collect`` is false). Without the lock nothing is written and
        the records are only read; a lock taken here is let go before returning."""
        held = self.locked
        if not self.try_lock():
            return self._tail.read_new() if collect else []
        try:
            return self._catch_up(collect)
        finally:
            if not held:
                self.unlock()

    def _catch_up(self, collect: bool) -> list[dict[str, Any]]:
        try:
            size = self._tail.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self.offset:  # the file was replaced or truncated: the columns start again
            for stale in self.folder.glob("*.f8"):
                stale.unlink()
            self.index = _empty_index()
            self._tail = JsonlTail(self._tail.path)
        found: list[dict[str, Any]] = []
        while True:  # slice by slice: a long backlog never sits in memory whole
            records = self._read_new()
            if records:
                self.append(records, self._tail.offset)
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

    def append(self, records: Iterable[Mapping[str, Any]], offset: int) -> None:
        """Add parsed records, which end at byte ``offset`` of the rank's file (lock held)."""
        if not self.locked:
            raise RuntimeError("metric columns are appended only by the lock holder")
        blocks, count, last_step = to_blocks(records, self.last_step)
        for (kind, name), block in blocks.items():
            entry = self._entry(kind, name)
            if entry is None:
                entry = [kind, name, f"s{len(self.index['series']):04d}.f8", 0]
                self.index["series"].append(entry)
            before = int(entry[3])
            with open(self.folder / entry[2], "ab") as f:
                f.write(np.ascontiguousarray(block).tobytes())
            entry[3] = before + block.shape[0]
            for level in range(1, LEVELS + 1):
                self._extend_level(entry[2], level, before, entry[3])
        self.index["records"] = self.records + count
        self.index["last_step"] = last_step
        self.index["offset"] = int(offset)
        self._tail.offset = int(offset)
        self._save_index()

    def _extend_level(self, file: str, level: int, before: int, after: int) -> None:
        """Append level ``level``'s blocks completed by raw points ``before..after``."""
        first, last = before // BLOCK**level, after // BLOCK**level
        if last <= first:
            return
        per_block = BLOCK if level == 1 else 2 * BLOCK  # source points in one block
        source = self._read_points(self._level_path(file, level - 1),
                                   first * per_block, (last - first) * per_block)
        blocks = source.reshape(last - first, per_block, _TRIPLET)
        order = extreme_pairs(blocks[:, :, 2])
        picked = np.take_along_axis(blocks, order[:, :, None], axis=1).reshape(-1, _TRIPLET)
        with open(self._level_path(file, level), "ab") as f:
            f.write(np.ascontiguousarray(picked).tobytes())

    # ------------------------------------------------------------ reading

    @staticmethod
    def _read_points(path: Path, start: int, count: int) -> np.ndarray:
        if count <= 0:
            return np.empty((0, _TRIPLET))
        data = np.fromfile(path, dtype=np.float64, count=count * _TRIPLET,
                           offset=start * _TRIPLET_BYTES)
        return data.reshape(-1, _TRIPLET)

    def _points(self, kind: str, name: str) -> np.ndarray:
        entry = self._entry(kind, name)
        if entry is None:
            return np.empty((0, _TRIPLET))
        return self._read_points(self.folder / entry[2], 0, int(entry[3]))

    def read(self, kind: str, name: str, first_step: float = -np.inf,
             last_step: float = np.inf) -> Arrays:
        """Every point of a series between two steps (full resolution, read on demand)."""
        entry = self._entry(kind, name)
        if entry is None:
            empty = np.empty(0)
            return empty, empty.copy(), empty.copy()
        points = np.memmap(self.folder / entry[2], dtype=np.float64, mode="r",
                           shape=(int(entry[3]), _TRIPLET)) if entry[3] else np.empty((0, 3))
        keep = (points[:, 0] >= first_step) & (points[:, 0] <= last_step)
        chosen = np.asarray(points[keep])
        return chosen[:, 0].copy(), chosen[:, 1].copy(), chosen[:, 2].copy()

    def overview(self, kind: str, name: str, buckets: int = OVERVIEW_BUCKETS) -> Arrays:
        """The series reduced to the lowest and highest point of each bucket, and its last point.

        A plot of it shows every spike the full series has (as pyqtgraph's
        "peak" downsampling would), from about ``2 * buckets`` points, read
        from the levels: the cost follows the buckets, not the points logged.
        """
        entry = self._entry(kind, name)
        if entry is None:
            return decimate(np.empty((0, _TRIPLET)), buckets)
        file, points = entry[2], int(entry[3])
        coarsest = 0
        levels = LEVELS if self.index.get("block") == BLOCK else 0  # else: not yet remade
        for level in range(1, levels + 1):
            if points // BLOCK**level >= max(1, int(buckets * MIN_BLOCKS_PER_BUCKET)):
                coarsest = level
        parts, covered = [], 0
        for level in range(coarsest, 0, -1):  # full blocks from the coarsest level down
            blocks = points // BLOCK**level
            start = covered // BLOCK**level
            if blocks > start:
                parts.append(self._read_points(self._level_path(file, level), 2 * start,
                                               2 * (blocks - start)))
                covered = blocks * BLOCK**level
        parts.append(self._read_points(self.folder / file, covered, points - covered))
        # The first and last points always show: where the curve starts and where it is now.
        ends = [self._read_points(self.folder / file, 0, 1), *parts,
                self._read_points(self.folder / file, points - 1, 1)]
        return decimate(without_repeats(np.concatenate(ends)), buckets)

    def overviews(self, buckets: int = OVERVIEW_BUCKETS) -> Columns:
        """Every series' overview."""
        return {key: self.overview(*key, buckets=buckets) for key in self.series()}


def columns_path(run: RunDir) -> Path:
    return run.metrics_dir / COLUMNS_DIR
