"""The latent studio's engines: interpolation, directions, feature brushes, rendering, files.

One module per purpose:

* :mod:`~backends.latent.interpolate`: lerp, guarded slerp, strips, four-corner planes;
* :mod:`~backends.latent.directions`: principal (GANSpace) and class directions;
* :mod:`~backends.latent.brushes`: strokes, mask pooling, compositing, forward hooks, undo stack;
* :mod:`~backends.latent.concepts`: the classifier that names units, per-unit draw levels;
* :mod:`~backends.latent.model`: opening a DCGAN / VAE checkpoint as a :class:`LatentModel`;
* :mod:`~backends.latent.render`: one render request → uint8 images (what workers run);
* :mod:`~backends.latent.export`: PNG, GIF, MP4, latents ``.npz``, image files in.

Nothing here imports Qt; every function takes and returns plain values.
"""

from __future__ import annotations

from backends.latent.brushes import BrushError, Stroke, StrokeStack
from backends.latent.directions import Direction, DirectionError
from backends.latent.export import ExportError
from backends.latent.interpolate import InterpolationError, lerp, slerp
from backends.latent.model import LatentModel, LatentModelError, open_latent_model
from backends.latent.render import RenderResult, render

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
