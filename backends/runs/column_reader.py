"""Following a large run through its metric columns: the history as overviews, then new records.

A run whose metrics files together exceed :data:`LARGE_RUN_BYTES` opens from
its columns (see :mod:`backends.runs.columns`); smaller ones are read whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.runs.columns import COLUMNS_DIR, OVERVIEW_BUCKETS, Columns, RankColumns
from backends.runs.decimation import Arrays, decimate
from backends.runs.folder import RunDir
from backends.runs.records import JsonlTail, RunUpdate

LARGE_RUN_BYTES = 32 * 1024 * 1024


def metrics_bytes(run: RunDir) -> int:
    """The size of every rank's JSON Lines file together."""
    total = 0
    for path in run.metrics_files().values():
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def is_large(run: RunDir) -> bool:
    return metrics_bytes(run) > LARGE_RUN_BYTES


class ColumnReader:
    """Follows a large run: its history as overviews once, then the records appended after it.

    The columns are read without a lock; while a rank's writer runs it keeps
    them current. For a rank nobody writes, the reader appends what it reads
    (so the next opening is quick too), taking the lock for each append only.
    """

    def __init__(self, run: RunDir, buckets: int = OVERVIEW_BUCKETS) -> None:
        self.run = run
        self.buckets = buckets
        self._events = JsonlTail(run.events_path)
        self._ranks: dict[int, RankColumns] = {}
        self._tails: dict[int, JsonlTail] = {}
        (run.metrics_dir / COLUMNS_DIR).mkdir(parents=True, exist_ok=True)  # OSError: read-only

    def poll(self) -> tuple[RunUpdate, dict[int, tuple[Columns, int, int | None]]]:
        """New events and records; for ranks seen for the first time, (overviews, records, last step)."""
        update = RunUpdate(events=self._events.read_new())
        history: dict[int, tuple[Columns, int, int | None]] = {}
        for rank in self.run.metrics_files():
            columns = self._ranks.get(rank)
            if columns is None:
                history[rank] = self._open_rank(rank)
                continue
            tail = self._tails[rank]
            start = tail.offset
            records = tail.read_new()
            if records:
                update.metrics[rank] = records
                self._keep_current(columns, records, start, tail.offset)
        tails = [self._events, *self._tails.values()]
        update.problems = [p for tail in tails for p in tail.bad_lines]
        for tail in tails:
            tail.bad_lines.clear()
        return update, history

    def _open_rank(self, rank: int) -> tuple[Columns, int, int | None]:
        columns = self._ranks[rank] = RankColumns(self.run, rank)
        if columns.try_lock():  # nobody writes this rank: catch its columns up first
            try:
                columns.update(collect=False)
            finally:
                columns.unlock()
        self._tails[rank] = JsonlTail(self.run.metrics_path(rank), offset=columns.offset)
        return columns.overviews(self.buckets), columns.records, columns.last_step

    @staticmethod
    def _keep_current(columns: RankColumns, records: list[dict[str, Any]], start: int,
                      end: int) -> None:
        if not columns.try_lock():
            return  # the rank's writer keeps them current
        try:
            if columns.offset == start:
                columns.append(records, end)
            elif columns.offset < end:
                columns.update(collect=False)
        finally:
            columns.unlock()

    def rank_columns(self, rank: int) -> RankColumns | None:
        return self._ranks.get(rank)


def read_detail(run: RunDir, rank: int, kind: str, name: str, first_step: float,
                last_step: float, buckets: int = OVERVIEW_BUCKETS) -> Arrays:
    """A series between two steps for a zoomed-in plot: every point when they are few, else
    the lowest and highest of each of ``buckets`` runs of them (still every spike)."""
    steps, times, values = RankColumns(run, rank).read(kind, name, first_step, last_step)
    return decimate(np.stack([steps, times, values], axis=1), buckets)
