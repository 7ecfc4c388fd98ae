"""The latent studio's engines: interpolation, directions, feature brushes, rendering, files.

One module per purpose:

* :mod:`~backends.latent.interpolate`: lerp, guarded slerp, strips, four-corner planes;
* :mod:`~backends.latent.directions`: principal (GANSpace) and class directions;
* :mod:`~backends.latent.strokes`: strokes and their undo history (plain data, no torch);
* :mod:`~backends.latent.brushes`: mask pooling, compositing, forward hooks;
* :mod:`~backends.latent.concepts`: unit statistics for the brushes (entry and vocabulary),
  with its parts :mod:`~backends.latent.concept_classifier`,
  :mod:`~backends.latent.unit_statistics`, :mod:`~backends.latent.unit_effects` and
  :mod:`~backends.latent.concept_check`;
* :mod:`~backends.latent.model`: opening a DCGAN / VAE checkpoint as a :class:`LatentModel`;
* :mod:`~backends.latent.render`: one render request → uint8 images (what workers run);
* :mod:`~backends.latent.export`: PNG, GIF, MP4, latents ``.npz``, image files in.

Nothing here imports Qt; every function takes and returns plain values.
"""

from __future__ import annotations

import importlib
from typing import Any

# NOTE: names load on first use: importing the package (as a panel does to
# hold strokes) must not import torch and slow the window's start.
_WHERE = {
    "BrushError": "strokes", "Stroke": "strokes", "StrokeStack": "strokes",
    "Direction": "directions", "DirectionError": "directions",
    "ExportError": "export",
    "InterpolationError": "interpolate", "lerp": "interpolate", "slerp": "interpolate",
    "LatentModel": "model", "LatentModelError": "catalog", "open_latent_model": "model",
    "RenderResult": "render", "render": "render",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = [
    "BrushError",
    "Direction",
    "DirectionError",
    "ExportError",
    "InterpolationError",
    "LatentModel",
    "LatentModelError",
    "RenderResult",
    "Stroke",
    "StrokeStack",
    "lerp",
    "open_latent_model",
    "render",
    "slerp",
]
