"""Datasets that work offline: images, character text, tabular; splits and per-rank shards.

- :mod:`backends.data.images`: Fashion-MNIST (IDX files), its shipped subset, scikit-learn digits.
- :mod:`backends.data.text`: character corpora and the :class:`~backends.data.text.CharTokenizer`.
- :mod:`backends.data.sharding`: deterministic splits and the per-rank sampler.

Every loader raises :class:`DataError` with a message that says what is missing and how to get it.
"""

from __future__ import annotations

from typing import Any

from backends.data.errors import DataError


def __getattr__(name: str) -> Any:
    # The sharding helpers import torch; loading them lazily keeps this package
    # cheap for callers that only read a CSV or an image file.
    if name in ("shard_sampler", "split_indices"):
        from backends.data import sharding

        return getattr(sharding, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["DataError", "shard_sampler", "split_indices"]
