"""The config keys that differ between runs (the compare table's rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# ---------------------------------------------------------------- comparing configs


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"path": x}}`` -> ``{"data.path": x}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


MISSING = object()  # a key one run's config does not have


def differing_keys(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The config keys whose values are not the same in every run, with each run's value.

    A key absent from a run gets :data:`MISSING` in that run's place; the
    run name (``name``) is left out, it differs by design.
    """
    flats = [flatten_config(c) for c in configs]
    keys = sorted({k for flat in flats for k in flat} - {"name"})
    rows = []
    for key in keys:
        values = [flat.get(key, MISSING) for flat in flats]
        if any(v is MISSING or v != values[0] or type(v) is not type(values[0]) for v in values):
            rows.append((key, values))
    return rows
