"""What the latent studio shows: the typed state its panel renders.

The panel keeps one :class:`LatentState`; its parts change it and redraw the
views from it. Engine objects are named here only for types (``torch`` and the
engines load on a worker, not when the window opens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

    from backends.latent.analysis import LabelledImages
    from backends.latent.concepts import ConceptClassifier, UnitStatistics
    from backends.latent.model import LatentModel
    from backends.latent.render import RenderResult

# Where the latent on screen comes from: a grid cell, a point on the anchor path,
# a point on the four-anchor plane, or an encoded image.
Source = Literal["cell", "path", "plane", "encoded"]


@dataclass
class EncodedImage:
    """An image encoded with the VAE: its label, its latent (d,) and the original (H, W, C) uint8."""

    label: str
    z: torch.Tensor
    original: np.ndarray


@dataclass
class LatentState:
    """The open models, the grid, where the shown latent comes from, and what is on screen."""

    model: LatentModel | None = None
    classifier: ConceptClassifier | None = None
    stats: UnitStatistics | None = None
    compare_model: LatentModel | None = None
    compare_levels: dict[str, torch.Tensor] = field(default_factory=dict)
    dataset: LabelledImages | None = None  # the model's labelled images, loaded on demand
    grid_latents: torch.Tensor | None = None  # (n, d), one per seed
    grid_seeds: list[int] = field(default_factory=list)
    current_cell: int | None = 0
    encoded: EncodedImage | None = None
    source: Source = "cell"
    strip_images: np.ndarray | None = None  # the interpolation strip (n, H, W, C)
    last_result: RenderResult | None = None  # the render on screen
    last_compare: RenderResult | None = None  # the compare model's render beside it
    shown_image: np.ndarray | None = None  # (H, W, C) uint8
    live_mask: np.ndarray | None = None  # the stroke being painted, before it is finished

    def levels(self) -> dict[str, torch.Tensor]:
        """Each brush layer's draw levels (empty before statistics exist)."""
        return self.stats.levels() if self.stats is not None else {}

    def cell_seed(self) -> int | None:
        """The seed of the current grid cell, if there is one."""
        if self.current_cell is None or not self.grid_seeds:
            return None
        return self.grid_seeds[self.current_cell]
