"""The metrics writer: one rank's records, each on disk when ``write`` returns.

Besides the JSON Lines file (the truth), the writer keeps the rank's metric
columns (:mod:`backends.runs.columns`) current: records are added to them in
batches, at most a second after they were written, so a run of any length
opens in the Monitor without its JSON being parsed. The columns are a copy:
when they cannot be written (another process holds them for a moment, a full
disk) the writer goes on, and whoever appends next catches them up from the
JSON Lines file.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from backends.runs.columns import RankColumns
from backends.runs.folder import SCHEMA_VERSION, RunDir

# Columns are brought up to date after this many records or this many seconds, whichever first.
COLUMN_FLUSH_RECORDS = 4096
COLUMN_FLUSH_SECONDS = 1.0


class MetricsWriter:
    """Appends one rank's metric records; each record is on disk when ``write`` returns.

    A record is ``{"v", "t", "step", "rank", "kind", **values}``; ``kind`` says
    which family the values belong to (``train``, ``val``, ``memory``...).
    """

    def __init__(self, run: RunDir, rank: int, columns: bool = True) -> None:
        self.rank = int(rank)
        run.metrics_dir.mkdir(parents=True, exist_ok=True)
        self.path = run.metrics_path(self.rank)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._columns: RankColumns | None = None
        if columns:
            try:
                self._columns = RankColumns(run, self.rank)
            except OSError:
                self._columns = None  # a read-only or full disk: the JSON Lines still work
        self._pending: list[dict[str, Any]] = []
        self._pending_start = os.fstat(self._fd).st_size  # where the pending records begin
        self._end = self._pending_start
        self._last_flush = time.monotonic()

    def write(self, step: int, kind: str = "train", **values: Any) -> dict[str, Any]:
        if self._fd is None:
            raise ValueError("MetricsWriter is closed")
        record = {
            "v": SCHEMA_VERSION,
            "t": time.time(),
            "step": int(step),
            "rank": self.rank,
            "kind": kind,
            **values,
        }
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        if self._columns is not None:
            # With O_APPEND the file position after a write is the end of that record.
            self._end = os.lseek(self._fd, 0, os.SEEK_CUR)
            self._pending.append(record)
            if (len(self._pending) >= COLUMN_FLUSH_RECORDS
                    or time.monotonic() - self._last_flush >= COLUMN_FLUSH_SECONDS):
                self.flush_columns()
        return record

    def flush_columns(self) -> None:
        """Add the records written since the last flush to the columns (if they can be had)."""
        columns, pending = self._columns, self._pending
        self._last_flush = time.monotonic()
        if columns is None or not pending:
            return
        try:
            if not columns.try_lock():
                return  # a reader is appending right now; the next flush catches up
            if columns.offset == self._pending_start:
                columns.append(pending, self._end)
            elif columns.offset < self._end:  # a gap (records from before this writer)
                columns.update(collect=False)
        except OSError:
            columns.unlock()
            self._columns = None  # the copy stops here; the next appender catches up
        self._pending = []
        self._pending_start = self._end

    def close(self) -> None:
        if self._fd is not None:
            self.flush_columns()
            if self._columns is not None:
                self._columns.unlock()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
