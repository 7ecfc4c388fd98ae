"""What a metric record holds: the keys that describe it, and the numbers it measures.

A record is ``{"v", "t", "step", "rank", "kind", **values}`` (see
:class:`backends.runs.MetricsWriter`); ``kind`` names the family of its
values (``train``, ``val``, ``memory``...). A memory record also stands for
its derived ``tensor_bytes`` (parameters + gradients + optimizer state), the
one curve that compares strategies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

# Record keys that describe the record rather than measure something.
RECORD_KEYS = frozenset({"v", "t", "step", "rank", "kind"})

# A rank's tensor bytes: the parts it writes, summed.
_TENSOR_PARTS = ("param_bytes", "grad_bytes", "optim_bytes")


def is_number(value: Any) -> TypeGuard[int | float]:
    """An int or float (a bool is not a measurement)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def record_items(kind: str, record: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """Every field of a record, plus the derived ``tensor_bytes`` of a memory record."""
    yield from record.items()
    if kind == "memory" and "tensor_bytes" not in record:
        parts = [record.get(name) for name in _TENSOR_PARTS]
        if all(is_number(p) for p in parts):
            yield "tensor_bytes", sum(parts)


def measured_values(kind: str, record: Mapping[str, Any]) -> Iterable[tuple[str, float]]:
    """The numeric fields a record measures (its describing keys left out)."""
    for name, value in record_items(kind, record):
        if name not in RECORD_KEYS and is_number(value):
            yield name, value
