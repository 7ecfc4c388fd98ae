"""TensorBoard ``Event`` protos into the workbench's records: scalars become curves, images samples.

Decoding uses tensorboard's own protos (``tensorboard.compat.proto``, the
``tensorboard`` extra). Scalars come in both encodings: the old
``simple_value`` (``add_scalar``'s default) and a ``tensor`` of the
``scalars`` plugin (``new_style=True``, ``tf.summary``): float, double, half
or integer, in ``*_val`` fields or packed in ``tensor_content``. Images come
as an ``image`` value (encoded PNG) or a tensor of the ``images`` plugin
(width, height, then encoded images).

A scalar becomes a row ``{"v", "t", "step", "rank": 0, "kind", <field>: value}``
of a :class:`backends.monitor_data.RecordColumns` batch, shaped like the
trainer's records (one field per row), which the Monitor files column by
column. A tag
``train/<field>`` is the ``train`` field, ``eval/<field>`` (or ``val``, ``test``)
the ``val`` field; other tags keep their name, in ``val`` when their first word
is one of those, else in ``train``: the Monitor then plots them as it plots a
workbench run (``train/learning_rate`` joins the learning-rate plot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.monitor_data import RecordColumns

_VAL_HEADS = frozenset({"eval", "val", "valid", "validation", "test"})
_TRAIN_HEADS = frozenset({"train", "training"})
_SPLIT = re.compile(r"[/_ .-]")
# TensorProto dtype codes (tensorboard/compat/proto/types.proto) of scalar encodings.
_DTYPES = {1: ("float_val", np.float32), 2: ("double_val", np.float64), 3: ("int_val", np.int32),
           9: ("int64_val", np.int64), 19: ("half_val", np.float16)}


class TensorBoardMissing(ImportError):
    """Reading or writing TensorBoard files needs the optional ``tensorboard`` extra."""


def event_class() -> Any:
    try:
        from tensorboard.compat.proto.event_pb2 import Event
    except ImportError as exc:
        raise TensorBoardMissing(
            "TensorBoard logs need the tensorboard extra: pip install 'workbench[tensorboard]'"
        ) from exc
    return Event


def kind_of(tag: str) -> str:
    """``val`` for ``eval/loss``, ``val_acc``, ``validation/...``; ``train`` for the rest."""
    return "val" if _SPLIT.split(tag.lower(), 1)[0] in _VAL_HEADS else "train"


def split_tag(tag: str) -> tuple[str, str]:
    """``(kind, field)`` of a tag: ``train/loss`` is the train ``loss``, ``eval/loss`` the val
    ``loss`` (so the Monitor's views find them by name, as in a workbench run); other tags keep
    their whole name."""
    head, _, rest = tag.partition("/")
    if rest and head.lower() in _TRAIN_HEADS:
        return "train", rest
    if rest and head.lower() in _VAL_HEADS:
        return "val", rest
    return kind_of(tag), tag


def tensor_scalar(tensor: Any) -> float | None:
    """The value of a one-element TensorProto, or None if it is not one."""
    dims = tensor.tensor_shape.dim
    if len(dims) > 1 or (dims and dims[0].size != 1):
        return None
    field, dtype = _DTYPES.get(tensor.dtype, (None, None))
    if field is None:
        return None
    if tensor.tensor_content:
        return float(np.frombuffer(tensor.tensor_content, dtype=dtype)[0])
    values = getattr(tensor, field)
    if not values:
        return None
    if tensor.dtype == 19:  # half_val holds the float16 bit pattern
        return float(np.array(values[0], dtype=np.uint16).view(np.float16))
    return float(values[0])


@dataclass(frozen=True)
class Image:
    """One encoded image a log holds."""

    tag: str
    step: int
    wall_time: float
    encoded: bytes


class EventDecoder:
    """Turns serialized events into a :class:`RecordColumns` batch and images (last per tag).

    Plain scalar events go through the batch decoder (``backends.tensorboard.wire``);
    the rest through tensorboard's protos, one event at a time.
    """

    def __init__(self) -> None:
        self._event = event_class()
        self.images: dict[str, Image] = {}
        self.scalars = 0
        self._kinds: dict[str, tuple[str, str]] = {}

    def _split(self, tag: str) -> tuple[str, str]:
        split = self._kinds.get(tag)
        if split is None:
            split = self._kinds[tag] = split_tag(tag)
        return split

    def decode(self, payloads: list[bytes]) -> RecordColumns:
        """Every scalar of ``payloads`` as one row each, in file order."""
        from backends.tensorboard.wire import decode_fast

        parse = self._event.FromString
        fast, left = decode_fast(payloads, parse)
        slow = self._decode_slow(payloads, np.flatnonzero(left).tolist())
        keys: list[tuple[str, str]] = []
        key_ids: dict[tuple[str, str], int] = {}

        def key_id(key: tuple[str, str]) -> int:
            found = key_ids.get(key)
            if found is None:
                found = key_ids[key] = len(keys)
                keys.append(key)
            return found

        group_keys = np.array([key_id(self._split(tag)) for tag in fast.tags] or [0],
                              dtype=np.int64)
        n_slow = len(slow)
        order_index = np.concatenate([fast.index, np.array([e[0] for e in slow], dtype=np.int64)])
        order_sub = np.concatenate([np.zeros(len(fast.index), dtype=np.int64),
                                    np.array([e[1] for e in slow], dtype=np.int64)])
        key = np.concatenate([group_keys[fast.group] if len(fast.index) else
                              np.zeros(0, dtype=np.int64),
                              np.array([key_id(e[2]) for e in slow], dtype=np.int64)])
        step = np.concatenate([fast.step, np.array([e[3] for e in slow], dtype=np.int64)])
        wall = np.concatenate([fast.wall, np.array([e[4] for e in slow], dtype=np.float64)])
        value = np.concatenate([fast.value, np.array([e[5] for e in slow], dtype=np.float64)])
        total = len(fast.index) + n_slow
        self.scalars += total
        order = np.lexsort((order_sub, order_index))  # file order; rows are positions in it
        rows = np.empty(total, dtype=np.int64)
        rows[order] = np.arange(total)
        columns: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
        by_key = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[by_key])) + 1
        for chunk in np.split(by_key, bounds) if total else []:
            chunk = chunk[np.argsort(rows[chunk], kind="stable")]
            columns[keys[int(key[chunk[0]])]] = (rows[chunk], step[chunk], wall[chunk], value[chunk])
        return RecordColumns(columns, total)

    def _decode_slow(self, payloads: list[bytes], indices: list[int]) -> list[tuple]:
        """``(event index, value index, (kind, field), step, wall time, value)`` per scalar."""
        parse = self._event.FromString
        out: list[tuple] = []
        for i in indices:
            event = parse(payloads[i])
            values = event.summary.value
            if not values:
                continue
            step = event.step
            for j, value in enumerate(values):
                which = value.WhichOneof("value")
                if which == "simple_value":
                    number = value.simple_value
                elif which == "tensor":
                    plugin = value.metadata.plugin_data.plugin_name
                    if plugin == "images":
                        self._tensor_image(value, step, event.wall_time)
                        continue
                    if plugin not in ("scalars", ""):
                        continue
                    number = tensor_scalar(value.tensor)
                    if number is None:
                        continue
                elif which == "image":
                    self.images[value.tag] = Image(value.tag, step, event.wall_time,
                                                   value.image.encoded_image_string)
                    continue
                else:
                    continue
                out.append((i, j, self._split(value.tag), step, event.wall_time, number))
        return out

    def _tensor_image(self, value: Any, step: int, wall_time: float) -> None:
        # The images plugin's tensor: [width, height, encoded image, encoded image...].
        strings = value.tensor.string_val
        if len(strings) >= 3:
            self.images[value.tag] = Image(value.tag, step, wall_time, bytes(strings[-1]))
