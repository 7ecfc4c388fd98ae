"""Records as column blocks: one (points, 3) float64 block of (step, time, value) per series."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import numpy as np

from backends.runs.schema import RECORD_KEYS, is_number, measured_values


def to_blocks(records: Iterable[Mapping[str, Any]], last_step: int | None
               ) -> tuple[dict[tuple[str, str], np.ndarray], int, int | None]:
    """Records as one (points, 3) float64 block per series, step-ordered; the count of records
    with a step and a time, and the highest step of a non-memory record."""
    columns: dict[tuple[str, str], list[np.ndarray]] = {}
    count = 0
    groups: dict[tuple[Any, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    for record in records:  # records of one shape are converted in bulk
        groups.setdefault((record.get("kind", "train"), tuple(record)), []).append(record)
    slow: list[Mapping[str, Any]] = []
    for (kind, keys), group in groups.items():
        table = bulk_table(kind, keys, group)
        if table is None:
            slow.extend(group)
            continue
        fields = [k for k in keys if k not in RECORD_KEYS]
        count += len(group)
        for j, name in enumerate(fields):
            columns.setdefault((str(kind), name), []).append(table[:, [0, 1, 2 + j]])
        top = int(table[:, 0].max())
        last_step = top if last_step is None else max(last_step, top)
    for record in slow:
        step, t = record.get("step"), record.get("t")
        if not is_number(step) or not is_number(t):
            continue
        kind = str(record.get("kind", "train"))
        count += 1
        for name, value in measured_values(kind, record):
            columns.setdefault((kind, name), []).append(np.array([[step, t, value]], dtype=np.float64))
        if kind != "memory" and (last_step is None or step > last_step):
            last_step = int(step)
    blocks = {}
    for key, parts in columns.items():
        block = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if block.shape[0] > 1 and np.any(np.diff(block[:, 0]) < 0):  # groups interleave: step order
            block = block[np.argsort(block[:, 0], kind="stable")]
        blocks[key] = block
    return blocks, count, last_step


def bulk_table(kind: Any, keys: tuple[str, ...], group: list[Mapping[str, Any]]
                ) -> np.ndarray | None:
    """Records of one shape as a (records, 2 + fields) table: step, time, then each field;
    None when they need the record-by-record path (memory records, missing or odd values)."""
    fields = [k for k in keys if k not in RECORD_KEYS]
    first = group[0]
    if (kind == "memory" or "step" not in keys or "t" not in keys
            or not all(is_number(first[k]) for k in ("step", "t", *fields))):
        return None
    try:
        table = np.array(list(map(itemgetter("step", "t", *fields), group)), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return table.reshape(len(group), 2 + len(fields))
