"""Checking a concept table: every offered brush must draw and remove its concept, and no two alike.

When the concept table is built (shipped demos and models a user trains alike)
each concept's unit set is checked at every intensity: drawn together under
the probe mask they must raise the concept score, removed together they must
lower it, by :data:`VERIFY_MARGIN`. Concepts that fail are kept but marked
unusable, with the reason, rather than offered; a concept whose unit set equals
a stronger one's on the same layer is merged into it.
"""

from __future__ import annotations

import math

import torch

from backends.latent import brushes
from backends.latent.concept_classifier import ConceptClassifier
from backends.latent.model import LatentModel
from backends.latent.unit_effects import concept_latents, weakest_effect
from backends.latent.unit_statistics import UnitStatistics
from backends.progress import ProgressCallback, report

#: How much a concept's unit set must move the concept score inside the probe mask
#: (mean change of the masked contrast logit) for its brush to be offered.
VERIFY_MARGIN = 0.1


def check_concepts(
    model: LatentModel,
    classifier: ConceptClassifier,
    stats: UnitStatistics,
    seed: int = 1,
    samples: int = 128,
    progress: ProgressCallback | None = None,
) -> None:
    """Mark, per layer, the concepts whose brushes fail or duplicate another's (in place).

    Every concept's unit set at every intensity is drawn under each of
    :func:`~backends.latent.unit_effects.probe_masks` on ``samples`` latents and
    removed on those showing the concept; both must move the score by
    :data:`VERIFY_MARGIN`. Of concepts with equal unit sets on one layer, the
    one with the larger margin stays and the others are merged into it.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, model.latent_dim, generator=g)
    jobs = [(layer, c) for layer in stats.layers for c in range(len(stats.class_names))]
    margins: dict[tuple[str, str], float] = {}
    for done, (layer, c) in enumerate(jobs):
        margin = _concept_margin(model, classifier, stats, layer, c, z)
        if margin is not None:
            margins[(layer, stats.class_names[c])] = margin
        report(progress, (done + 1) / len(jobs))
    for layer in stats.layers:
        _merge_twins(stats, layer, margins)
    stats.verified = True


def _intensity_counts() -> list[int]:
    return sorted(set(brushes.INTENSITY_UNITS.values()))


def _concept_margin(
    model: LatentModel,
    classifier: ConceptClassifier,
    stats: UnitStatistics,
    layer: str,
    c: int,
    z: torch.Tensor,
) -> float | None:
    """Check concept ``c`` on ``layer`` at every intensity: its weakest effect, or None (marked unusable)."""
    layer_stats = stats.layers[layer]
    concept = stats.class_names[c]
    available = layer_stats.available.get(concept, len(layer_stats.levels))
    if available == 0:
        layer_stats.unusable[concept] = (
            "no unit of this layer raises its score when drawn and lowers it when removed"
        )
        return None
    z_remove = concept_latents(model, classifier, z, c)
    unedited = (model.decode(z), model.decode(z_remove))
    worst = math.inf
    for count in _intensity_counts():
        units = stats.units(layer, concept, count)
        rise, fall = weakest_effect(
            model, classifier, layer, layer_stats.levels, units, c, z, z_remove, unedited
        )
        worst = min(worst, rise, fall)
        if rise < VERIFY_MARGIN or fall < VERIFY_MARGIN:
            layer_stats.unusable[concept] = (
                f"its {len(units)} units raise its score by {rise:.2f} when drawn and lower "
                f"it by {fall:.2f} when removed (both must reach {VERIFY_MARGIN})"
            )
            return None
    layer_stats.unusable[concept] = ""
    return worst


def _merge_twins(stats: UnitStatistics, layer: str, margins: dict[tuple[str, str], float]) -> None:
    """Of offered concepts on ``layer`` that paint with the same units, keep the strongest."""
    counts = _intensity_counts()

    def strength(concept: str) -> float:
        return -margins.get((layer, concept), 0.0)

    kept: list[str] = []
    for concept in sorted(stats.offered(layer), key=strength):
        twin = next(
            (
                other
                for other in kept
                if any(
                    set(stats.units(layer, other, n)) == set(stats.units(layer, concept, n))
                    for n in counts
                )
            ),
            None,
        )
        if twin is None:
            kept.append(concept)
        else:
            stats.layers[layer].unusable[concept] = (
                f"it paints with the same units as {twin}: merged into {twin}"
            )
