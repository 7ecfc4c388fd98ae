"""Every numeric metric of one run, filed as series by ``(kind, field, rank)``.

Metric records (see :class:`backends.runs.MetricsWriter`) arrive in batches.
:class:`RunMetrics` files every numeric field of every record; fields are
never looked up by a fixed list of names, so a new field a trainer starts to
write shows up without any change here. A long log arrives as
:class:`RecordColumns` (values already in columns) and a large run's history
as overview arrays (see :mod:`backends.runs.columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backends.monitor_data.series import DetailSource, Series
from backends.runs.schema import is_number, measured_values

SeriesKey = tuple[str, str, int]  # (kind, field, rank)


class RecordColumns:
    """A batch of one-field records held as columns: what a long log is read into.

    Each row is one value: ``{"t", "step", "kind", <field>: value}``. Rows are
    numbered in file order; ``columns[(kind, field)]`` holds that field's row
    numbers, steps, times and values (numpy arrays, rows ascending). It has
    the parts of a list the monitor uses (``len``, slicing by row, iterating
    as dicts), and :meth:`RunMetrics.add_records` files it column by column,
    without a Python loop per value.
    """

    def __init__(self, columns: dict[tuple[str, str], tuple[np.ndarray, ...]], rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: slice) -> RecordColumns:
        if not isinstance(index, slice):
            raise TypeError("RecordColumns are sliced by row range only")
        lo, hi, _ = index.indices(self.rows)
        hi = max(lo, hi)
        out: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
        for key, (rows, steps, times, values) in self.columns.items():
            a, b = np.searchsorted(rows, [lo, hi])
            if b > a:
                out[key] = (rows[a:b] - lo, steps[a:b], times[a:b], values[a:b])
        return RecordColumns(out, hi - lo)

    def __iter__(self):
        flat = sorted(
            (int(r), kind, name, s, t, v)
            for (kind, name), cols in self.columns.items()
            for r, s, t, v in zip(*(c.tolist() for c in cols), strict=True)
        )
        for _row, kind, name, step, t, value in flat:
            yield {"v": 1, "t": t, "step": step, "rank": 0, "kind": kind, name: value}

    def __bool__(self) -> bool:
        return self.rows > 0

    @staticmethod
    def concat(batches: Sequence[RecordColumns]) -> RecordColumns:
        """One batch of several, rows in the given order."""
        parts: dict[tuple[str, str], list[tuple[np.ndarray, ...]]] = {}
        offset = 0
        for batch in batches:
            for key, (rows, steps, times, values) in batch.columns.items():
                parts.setdefault(key, []).append((rows + offset, steps, times, values))
            offset += batch.rows
        columns = {key: tuple(np.concatenate(c) for c in zip(*chunks, strict=True))
                   for key, chunks in parts.items()}
        return RecordColumns(columns, offset)


class RunMetrics:
    """Every numeric metric of one run, as series keyed by ``(kind, field, rank)``."""

    def __init__(self) -> None:
        self.series: dict[SeriesKey, Series] = {}
        self.start_time: float | None = None  # earliest write time seen: wall-time x origin
        self.last_time: float | None = None
        self.last_step: int | None = None
        self.records = 0
        self.version = 0  # bumps when a new series appears (views rebuild their curve list)

    def add_records(self, rank: int, records: Iterable[Mapping[str, Any]]) -> None:
        """File one batch of a rank's records; numeric fields only, others are ignored."""
        if isinstance(records, RecordColumns):
            self._add_columns(rank, records)
            return
        columns: dict[tuple[str, str], tuple[list[float], list[float], list[float]]] = {}
        for record in records:
            step, t = record.get("step"), record.get("t")
            if not is_number(step) or not is_number(t):
                continue
            kind = str(record.get("kind", "train"))
            self.records += 1
            for name, value in measured_values(kind, record):
                steps, times, values = columns.setdefault((kind, name), ([], [], []))
                steps.append(step)
                times.append(t)
                values.append(value)
            if self.start_time is None or t < self.start_time:
                self.start_time = float(t)
            if self.last_time is None or t > self.last_time:
                self.last_time = float(t)
            if kind != "memory" and (self.last_step is None or step > self.last_step):
                self.last_step = int(step)
        for (kind, name), (steps, times, values) in columns.items():
            key = (kind, name, int(rank))
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series()
                self.version += 1
            series.extend(np.array(steps), np.array(times), np.array(values))

    def _add_columns(self, rank: int, batch: RecordColumns) -> None:
        self.records += batch.rows
        for (kind, name), (_rows, steps, times, values) in batch.columns.items():
            if not len(steps):
                continue
            first, last = float(times.min()), float(times.max())
            if self.start_time is None or first < self.start_time:
                self.start_time = first
            if self.last_time is None or last > self.last_time:
                self.last_time = last
            top = int(steps.max())
            if kind != "memory" and (self.last_step is None or top > self.last_step):
                self.last_step = top
            self._extend(kind, name, rank, steps, times, values)

    def add_columns(self, rank: int, columns: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray,
                                                                             np.ndarray]],
                    records: int = 0, last_step: int | None = None,
                    source: Path | None = None) -> None:
        """File a rank's history given as arrays (a large run's overviews, see
        :mod:`backends.runs.columns`) instead of records; ``source``, the run folder,
        is where a zoomed-in plot reads every point."""
        for (kind, name), (steps, times, values) in columns.items():
            if len(steps) == 0:
                continue
            self._extend(kind, name, rank, steps, times, values)
            if source is not None:
                self.series[(kind, name, int(rank))].detail_source = DetailSource(
                    Path(source), int(rank), kind, name)
            first, last = float(np.min(times)), float(np.max(times))
            if self.start_time is None or first < self.start_time:
                self.start_time = first
            if self.last_time is None or last > self.last_time:
                self.last_time = last
        self.records += int(records)
        if last_step is not None and (self.last_step is None or last_step > self.last_step):
            self.last_step = int(last_step)

    def _extend(self, kind: str, name: str, rank: int, steps: Any, times: Any, values: Any) -> None:
        key = (kind, name, int(rank))
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
            self.version += 1
        series.extend(steps, times, values)

    def get(self, kind: str, name: str, rank: int) -> Series | None:
        return self.series.get((kind, name, rank))

    def kinds(self) -> dict[str, list[str]]:
        """Field names per record kind, sorted: the generic list of everything plottable."""
        found: dict[str, set[str]] = {}
        for kind, name, _rank in self.series:
            found.setdefault(kind, set()).add(name)
        return {kind: sorted(names) for kind, names in sorted(found.items())}

    def ranks(self, kind: str | None = None, name: str | None = None) -> list[int]:
        return sorted(
            {
                r
                for k, n, r in self.series
                if (kind is None or k == kind) and (name is None or n == name)
            }
        )

    def latest(self, kind: str, name: str, rank: int | None = None) -> float | None:
        """The newest value of a field (lowest rank that has it unless ``rank`` is given)."""
        ranks = [rank] if rank is not None else self.ranks(kind, name)
        for r in ranks:
            series = self.get(kind, name, r)
            if series is not None and len(series):
                return float(series.value.view[-1])
        return None




# ---------------------------------------------------------------- which curve is which


def is_loss_field(name: str) -> bool:
    """Loss-like fields: the loss and its parts (D/G, reconstruction/KL, train/val)."""
    lowered = name.lower()
    return (
        "loss" in lowered
        or lowered in ("recon", "kl", "nll", "bce", "elbo", "perplexity")
        or lowered.startswith(("recon_", "kl_"))
    )


def matching_fields(
    metrics: RunMetrics, wanted: Callable[[str, str], bool]
) -> list[tuple[str, str]]:
    """``(kind, field)`` pairs that ``wanted(kind, field)`` accepts, in a stable order."""
    return [
        (kind, name)
        for kind, names in metrics.kinds().items()
        for name in names
        if wanted(kind, name)
    ]
