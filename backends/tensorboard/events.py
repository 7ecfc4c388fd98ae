"""TensorBoard ``Event`` protos into the workbench's records: scalars become curves, images samples.

Decoding uses tensorboard's own protos (``tensorboard.compat.proto``, the
``tensorboard`` extra). Scalars come in both encodings: the old
``simple_value`` (``add_scalar``'s default) and a ``tensor`` of the
``scalars`` plugin (``new_style=True``, ``tf.summary``): float, double, half
or integer, in ``*_val`` fields or packed in ``tensor_content``. Images come
as an ``image`` value (encoded PNG) or a tensor of the ``images`` plugin
(width, height, then encoded images).

A scalar becomes a record ``{"v", "t", "step", "rank": 0, "kind", <field>: value}``
like the trainer's; consecutive scalars of one step share a record. A tag
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
    """Turns serialized events into records (appended to a list) and images (kept last per tag)."""

    def __init__(self) -> None:
        self._event = event_class()
        self.images: dict[str, Image] = {}
        self.scalars = 0
        self._kinds: dict[str, tuple[str, str]] = {}

    def decode(self, payloads: list[bytes], out: list[dict[str, Any]]) -> None:
        # NOTE: the hot loop of opening a long log: attribute hops on protobuf messages cost
        # more than the parse itself, so each is done once and tag kinds are cached.
        parse = self._event.FromString
        kinds = self._kinds
        last: dict[str, Any] | None = out[-1] if out else None
        for payload in payloads:
            event = parse(payload)
            values = event.summary.value
            if not values:
                continue
            step = event.step
            for value in values:
                which = value.WhichOneof("value")
                if which == "simple_value":
                    number = value.simple_value
                elif which == "tensor":
                    tensor = value.tensor
                    plugin = value.metadata.plugin_data.plugin_name
                    if plugin == "images":
                        self._tensor_image(value, step, event.wall_time)
                        continue
                    if plugin not in ("scalars", ""):
                        continue
                    if tensor.dtype == 1 and not tensor.tensor_content and len(tensor.float_val) == 1:
                        number = tensor.float_val[0]
                    else:
                        number = tensor_scalar(tensor)
                        if number is None:
                            continue
                elif which == "image":
                    self.images[value.tag] = Image(value.tag, step, event.wall_time,
                                                   value.image.encoded_image_string)
                    continue
                else:
                    continue
                split = kinds.get(value.tag)
                if split is None:
                    split = kinds[value.tag] = split_tag(value.tag)
                kind, tag = split
                self.scalars += 1
                if last is not None and last["step"] == step and last["kind"] == kind \
                        and tag not in last:
                    last[tag] = number
                else:
                    last = {"v": 1, "t": event.wall_time, "step": step, "rank": 0, "kind": kind,
                            tag: number}
                    out.append(last)

    def _tensor_image(self, value: Any, step: int, wall_time: float) -> None:
        # The images plugin's tensor: [width, height, encoded image, encoded image...].
        strings = value.tensor.string_val
        if len(strings) >= 3:
            self.images[value.tag] = Image(value.tag, step, wall_time, bytes(strings[-1]))
