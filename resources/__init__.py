"""Files shipped with the workbench: presets, demo checkpoints, small datasets.

Read them with :func:`resource_path` (``importlib.resources``), never with a
path relative to the source tree, so they work from an installed wheel too.
"""

from __future__ import annotations

from importlib import resources as _resources
from importlib.abc import Traversable


def resource_path(*parts: str) -> Traversable:
    """A file or folder shipped in this package, e.g. ``resource_path("presets")``."""
    node = _resources.files(__name__)
    for part in parts:
        node = node / part
    return node
