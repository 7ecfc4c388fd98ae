"""Checking plain values against a dataclass's fields: one place for "which keys are unknown".

Configs read from TOML, JSON or the command line are dataclasses built with
``from_dict``; each refuses keys it does not have (a typo would otherwise be
ignored silently) with its own message, and asks here which keys those are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


def field_names(cls: Any) -> set[str]:
    """The names of a dataclass's fields."""
    return {f.name for f in dataclasses.fields(cls)}


def unknown_fields(cls: Any, data: Iterable[str]) -> list[str]:
    """The keys of ``data`` that ``cls`` has no field for, sorted (empty: all known)."""
    return sorted(set(data) - field_names(cls))
