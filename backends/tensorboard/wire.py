"""Scalar events decoded a whole batch at a time: the fast path for opening long logs.

Writers emit scalar events that, for one tag, have the same bytes except
three numbers: the wall time, the step and the value. For each group of
events of equal length, one event (the template) is read field by field with
a small protobuf wire reader and, as a check, also parsed by tensorboard's
own ``Event`` class; the two must agree. Every other event of the group whose
bytes equal the template's outside those three numbers (and whose step is a
varint of the template's length) is then decoded with numpy from fixed byte
offsets: no Python per event. Anything else (other shapes, images, a first
event of a new tag) is left for the protobuf decoder, so this path changes
speed, never results (checked against tensorboard's reader in the tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_GROUP = 16  # smaller groups go through protobuf: fewer calls than numpy's set-up


@dataclass(frozen=True)
class Template:
    """Where the three varying numbers sit in one event shape."""

    tag: str
    wall: int  # offset of the 8-byte double
    step: tuple[int, int] | None  # (offset, length) of the step varint, None when step is 0
    value: int  # offset of the value
    value_dtype: str  # "<f4" or "<f8"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """``(field number, wire type, start, end)`` of each field between ``start`` and ``end``."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _varint(data, pos)
        elif wire == 1:
            after = pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            after = pos + length
        elif wire == 5:
            after = pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, pos, after
        pos = after
    if pos != end:
        raise ValueError("field runs past its message")


def template_of(data: bytes) -> Template | None:
    """The shape of one scalar event, or None when it is not a plain one-value scalar."""
    try:
        wall = step = summary = None
        for number, wire, start, end in _fields(data, 0, len(data)):
            if number == 1 and wire == 1:
                wall = start
            elif number == 2 and wire == 0:
                step = (start, end - start)
            elif number == 5 and wire == 2 and summary is None:
                summary = (start, end)
            else:
                return None
        if wall is None or summary is None:
            return None
        values = list(_fields(data, *summary))
        if len(values) != 1 or values[0][:2] != (1, 2):
            return None
        tag = value = None
        tensor = metadata = False
        for number, wire, start, end in _fields(data, values[0][2], values[0][3]):
            if number == 1 and wire == 2:
                tag = data[start:end].decode()
            elif number == 2 and wire == 5:
                value = (start, "<f4")
            elif number == 8 and wire == 2:
                tensor = True
                value = _tensor_value(data, start, end)
                if value is None:
                    return None
            elif number == 9 and wire == 2:
                metadata = True  # its bytes are compared; the plugin is checked by the parse
            else:
                return None
        if tag is None or value is None or (tensor and not metadata):
            return None
        return Template(tag, wall, step, value[0], value[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _tensor_value(data: bytes, start: int, end: int) -> tuple[int, str] | None:
    dtype, value = None, None
    for number, wire, s, e in _fields(data, start, end):
        if number == 1 and wire == 0:
            dtype, _ = _varint(data, s)
        elif number == 2 and wire == 2:
            continue  # the shape: constant bytes, checked by the parse
        elif number == 5 and ((wire == 2 and e - s == 4) or wire == 5):
            value = (s, "<f4")
        elif number == 6 and ((wire == 2 and e - s == 8) or wire == 1):
            value = (s, "<f8")
        else:
            return None
    if value is None or (dtype, value[1]) not in ((1, "<f4"), (2, "<f8")):
        return None
    return value


def _agrees(template: Template, data: bytes, event: Any) -> bool:
    """tensorboard's parse of the template reads what the offsets say."""
    from backends.tensorboard.events import tensor_scalar

    values = event.summary.value
    if len(values) != 1 or values[0].tag != template.tag:
        return False
    value = values[0]
    which = value.WhichOneof("value")
    if which == "simple_value":
        number = value.simple_value
    elif which == "tensor" and value.metadata.plugin_data.plugin_name in ("scalars", ""):
        number = tensor_scalar(value.tensor)
    else:
        return False
    mine = float(np.frombuffer(data, template.value_dtype, 1, template.value)[0])
    wall = float(np.frombuffer(data, "<f8", 1, template.wall)[0])
    step = _varint(data, template.step[0])[0] if template.step else 0
    return number == mine and event.wall_time == wall and event.step == step


@dataclass
class FastScalars:
    """What the fast path decoded: per event index, its tag, step, wall time and value."""

    index: np.ndarray
    tags: list[str]  # per group
    group: np.ndarray  # group number per decoded event
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray


def decode_fast(payloads: list[bytes], parse: Any) -> tuple[FastScalars, np.ndarray]:
    """Decode what the fast path can; returns it and a mask of the events left to protobuf."""
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    left = np.ones(n, dtype=bool)
    parts: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]] = []
    tags: list[str] = []
    unique, counts = np.unique(lengths, return_counts=True)
    for length in unique[counts >= MIN_GROUP]:
        index = np.flatnonzero(lengths == length)
        rows = np.frombuffer(b"".join([payloads[i] for i in index]), dtype=np.uint8)
        rows = rows.reshape(len(index), int(length))
        # Several tags may share a length: peel off one template at a time.
        pending = np.arange(len(index))
        while len(pending) >= MIN_GROUP:
            first = payloads[index[pending[0]]]
            template = template_of(first)
            if template is None or not _agrees(template, first, parse(first)):
                break
            matched, decoded = _match(rows[pending], template)
            if not matched.any():
                break
            chosen = index[pending[matched]]
            tags.append(template.tag)
            parts.append((chosen, len(tags) - 1, *decoded))
            left[chosen] = False
            pending = pending[~matched]
    if parts:
        fast = FastScalars(
            index=np.concatenate([p[0] for p in parts]), tags=tags,
            group=np.concatenate([np.full(len(p[0]), p[1], dtype=np.int64) for p in parts]),
            step=np.concatenate([p[2] for p in parts]), wall=np.concatenate([p[3] for p in parts]),
            value=np.concatenate([p[4] for p in parts]))
    else:
        empty = np.zeros(0)
        fast = FastScalars(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64),
                           np.zeros(0, dtype=np.int64), empty, empty)
    return fast, left


def _match(rows: np.ndarray, template: Template) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    width = rows.shape[1]
    varying = np.zeros(width, dtype=bool)
    varying[template.wall : template.wall + 8] = True
    size = 4 if template.value_dtype == "<f4" else 8
    varying[template.value : template.value + size] = True
    if template.step is not None:
        start, k = template.step
        varying[start : start + k] = True
    fixed = ~varying
    matched = (rows[:, fixed] == rows[0, fixed]).all(axis=1)
    step = np.zeros(len(rows), dtype=np.int64)
    if template.step is not None:
        start, k = template.step
        body = rows[:, start : start + k].astype(np.int64)
        if k > 1:
            matched &= (body[:, :-1] & 0x80).astype(bool).all(axis=1)
        matched &= (body[:, -1] & 0x80) == 0
        for j in range(k):
            step |= (body[:, j] & 0x7F) << (7 * j)
    kept = rows[matched]
    wall = np.ascontiguousarray(kept[:, template.wall : template.wall + 8]).view("<f8").ravel()
    value = np.ascontiguousarray(kept[:, template.value : template.value + size])
    value = value.view(template.value_dtype).ravel().astype(np.float64)
    return matched, (step[matched], wall, value)
