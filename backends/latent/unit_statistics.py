"""Unit statistics: per brush layer, each unit's draw level and, per concept, its units best first.

:class:`UnitStatistics` is what :func:`backends.latent.concepts.compute_unit_statistics`
returns and what a brush asks for the units of a concept. It saves to a plain
``.npz`` (no pickle), so a demo checkpoint can ship it and a user checkpoint
computes it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.latent import brushes
from backends.latent.concept_classifier import ConceptError


@dataclass
class LayerStatistics:
    """For one layer: each unit's draw level and, per class, units best first."""

    levels: torch.Tensor  # (C,)
    order: dict[str, torch.Tensor] = field(default_factory=dict)  # class -> (C,) unit indices
    score: dict[str, torch.Tensor] = field(default_factory=dict)  # class -> (C,) ranking score
    # class -> how many units qualify (the top of ``order``); all units when unchecked
    available: dict[str, int] = field(default_factory=dict)
    # class -> why the concept is not offered on this layer ("" when it is)
    unusable: dict[str, str] = field(default_factory=dict)


@dataclass
class UnitStatistics:
    """Statistics of every brush layer of one model; ``ranking`` says how units were scored."""

    layers: dict[str, LayerStatistics]
    class_names: list[str]
    samples: int
    ranking: str = "effect"
    # True when every concept was checked against the classifier (see the module doc).
    verified: bool = False

    def levels(self) -> dict[str, torch.Tensor]:
        return {name: stats.levels for name, stats in self.layers.items()}

    def offered(self, layer: str) -> list[str]:
        """The concepts a brush on ``layer`` offers: checked to draw and remove, one per unit set."""
        stats = self.layers.get(layer)
        if stats is None:
            return []
        return [c for c in self.class_names if c in stats.order and not stats.unusable.get(c)]

    def why_unusable(self, layer: str, concept: str) -> str:
        """Why ``concept`` is not offered on ``layer`` ("" when it is)."""
        stats = self.layers.get(layer)
        return "" if stats is None else stats.unusable.get(concept, "")

    def units(self, layer: str, concept: str, count: int | str) -> tuple[int, ...]:
        """The ``count`` units of ``layer`` that best bring out ``concept`` (fewer if fewer qualify)."""
        stats = self.layers.get(layer)
        if stats is None:
            raise ConceptError(f"no statistics for layer {layer!r}; recompute unit statistics")
        if concept not in stats.order:
            raise ConceptError(f"unknown concept {concept!r}; choose one of {', '.join(stats.order)}")
        if stats.unusable.get(concept):
            raise ConceptError(f"{concept} cannot be brushed on {layer}: {stats.unusable[concept]}")
        order = stats.order[concept][: stats.available.get(concept, len(stats.order[concept]))]
        return brushes.units_for_intensity(order.tolist(), count)

    def save(self, path: str | Path) -> None:
        # Any: numpy's stubs type ``**arrays`` together with savez's ``allow_pickle: bool``.
        arrays: dict[str, Any] = {
            "class_names": np.array(self.class_names, dtype=str),
            "layer_names": np.array(list(self.layers), dtype=str),
            "samples": np.array(self.samples),
            "ranking": np.array(self.ranking),
            "verified": np.array(self.verified),
        }
        for i, (_, stats) in enumerate(self.layers.items()):
            arrays[f"available_{i}"] = np.array(
                [stats.available.get(c, len(stats.levels)) for c in self.class_names], dtype=np.int64
            )
            arrays[f"unusable_{i}"] = np.array(
                [stats.unusable.get(c, "") for c in self.class_names], dtype=str
            )
            arrays[f"levels_{i}"] = stats.levels.numpy()
            arrays[f"score_{i}"] = (
                np.stack([stats.score[c].numpy() for c in self.class_names])
                if self.class_names
                else np.zeros((0, len(stats.levels)), dtype=np.float32)
            )
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> UnitStatistics:
        try:
            with np.load(path, allow_pickle=False) as data:
                class_names = [str(c) for c in data["class_names"]]
                layer_names = [str(n) for n in data["layer_names"]]
                layers = {}
                for i, name in enumerate(layer_names):
                    score = torch.from_numpy(data[f"score_{i}"]).float()
                    layer = LayerStatistics(torch.from_numpy(data[f"levels_{i}"]).float())
                    checked = f"available_{i}" in data.files
                    for c, concept in enumerate(class_names):
                        layer.score[concept] = score[c]
                        layer.order[concept] = torch.argsort(score[c], descending=True, stable=True)
                        if checked:
                            layer.available[concept] = int(data[f"available_{i}"][c])
                            layer.unusable[concept] = str(data[f"unusable_{i}"][c])
                    layers[name] = layer
                verified = bool(data["verified"]) if "verified" in data.files else False
                return cls(
                    layers, class_names, int(data["samples"]), str(data["ranking"]), verified
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConceptError(f"{path}: not a unit statistics file ({exc}); recompute it") from exc
