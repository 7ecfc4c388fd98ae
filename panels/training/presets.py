"""Launcher presets: the shipped ones and the user's own, read as complete form values.

A preset is a training config in TOML; the shipped ones live in
``resources/presets``, the user's in the settings folder's ``presets``
(a user preset may shadow a shipped name). :func:`with_defaults` lays a
preset over the config defaults so every form field gets a value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resources import resource_path

DEFAULT_PRESET = "gpt-tiny"


def with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """A preset's values over the config defaults, so every form field has a value."""
    from backends.train.config import TrainConfig  # no torch: cheap to import

    merged = TrainConfig().to_dict()
    data = {**merged["data"], **(values.get("data") or {})}
    return {**merged, **values, "data": data}


def list_presets(user_dir: Path) -> dict[str, Path]:
    """Shipped presets, then the user's own (which may shadow a shipped name)."""
    found: dict[str, Path] = {}
    shipped = resource_path("presets")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found[entry.name[:-5]] = Path(str(entry))
    if user_dir.is_dir():
        for entry in sorted(user_dir.glob("*.toml")):
            found[entry.stem] = entry
    return found
