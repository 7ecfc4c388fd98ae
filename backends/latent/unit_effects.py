"""What painting units does to a concept's score: the causal measurements concepts rest on.

A brush acts under a painted mask, so it is judged there (see
:mod:`backends.latent.concepts`): :func:`unit_effects` measures every unit
alone, :func:`brush_effect` / :func:`weakest_effect` a set of units, under the
:func:`probe_masks`; :func:`grow_unit_set` builds a concept's unit set from
them. Drawing is judged on all latents, removing on those whose images show
the concept (:func:`concept_latents`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from backends.latent import brushes
from backends.latent.concept_classifier import ConceptClassifier
from backends.latent.model import LatentModel
from backends.progress import ProgressCallback, report

# The share of latents, those whose images look most like the class, on which
# "remove" is judged: removing a T-shirt needs a T-shirt to be there.
_REMOVE_SHARE = 0.25
# How many of a concept's qualifying units, best first, are tried for its set.
_CANDIDATES = 24


def probe_mask(size: int) -> np.ndarray:
    """The first mask concepts are judged under: the middle of the image, half its side."""
    return probe_masks(size)[0]


def probe_masks(size: int) -> list[np.ndarray]:
    """The masks concepts are judged under; now only the middle of the image, half its side.

    A brush is only promised to work under these masks. Choosing units by their
    weakest effect over several masks (upper and lower middle as well) left almost
    no concept on the shipped demos, so one mask is used; a list keeps room for more.
    """
    q = size // 4
    mask = np.zeros((size, size), dtype=bool)
    mask[q : size - q, q : size - q] = True
    return [mask]


def _edit(
    model: LatentModel, layer: str, units: Sequence[int], mode: str, mask: np.ndarray,
    levels: torch.Tensor,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The composite edit of one stroke of ``units`` on ``layer`` under ``mask``."""
    stroke = brushes.Stroke(layer, tuple(int(u) for u in units), mode, mask)
    return brushes.composite([stroke], {layer: model.brush_layers[layer]}, {layer: levels})


def concept_latents(
    model: LatentModel, classifier: ConceptClassifier, z: torch.Tensor, concept: int
) -> torch.Tensor:
    """The latents among ``z`` whose images look most like ``concept`` (a quarter of them)."""
    p = classifier.probabilities(model.decode(z))[:, concept]
    count = max(1, int(round(len(z) * _REMOVE_SHARE)))
    return z[torch.from_numpy(np.argsort(-p, kind="stable")[:count].copy())]


def brush_effect(
    model: LatentModel,
    classifier: ConceptClassifier,
    layer: str,
    levels: torch.Tensor,
    units: Sequence[int],
    concept: int,
    mask: np.ndarray,
    z_draw: torch.Tensor,
    z_remove: torch.Tensor,
    unedited: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[float, float]:
    """(rise under draw, fall under remove) of ``concept``'s score inside ``mask``, on average.

    ``unedited`` may hold the images of ``z_draw`` and ``z_remove`` already decoded.
    """
    plain_draw, plain_remove = unedited or (model.decode(z_draw), model.decode(z_remove))
    base = classifier.masked_scores(plain_draw, mask)[:, concept]
    drawn = classifier.masked_scores(
        model.decode(z_draw, _edit(model, layer, units, "draw", mask, levels)), mask
    )[:, concept]
    present = classifier.masked_scores(plain_remove, mask)[:, concept]
    removed = classifier.masked_scores(
        model.decode(z_remove, _edit(model, layer, units, "remove", mask, levels)), mask
    )[:, concept]
    return float((drawn - base).mean()), float((present - removed).mean())


def weakest_effect(
    model: LatentModel,
    classifier: ConceptClassifier,
    layer: str,
    levels: torch.Tensor,
    units: Sequence[int],
    concept: int,
    z_draw: torch.Tensor,
    z_remove: torch.Tensor,
    unedited: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[float, float]:
    """:func:`brush_effect`'s smallest rise and smallest fall over :func:`probe_masks`."""
    unedited = unedited or (model.decode(z_draw), model.decode(z_remove))
    effects = [
        brush_effect(
            model, classifier, layer, levels, units, concept, mask, z_draw, z_remove, unedited
        )
        for mask in probe_masks(model.image_size)
    ]
    return min(e[0] for e in effects), min(e[1] for e in effects)


def unit_effects(
    model: LatentModel,
    classifier: ConceptClassifier,
    layer: str,
    levels: torch.Tensor,
    z: torch.Tensor,
    progress: ProgressCallback | None = None,
    mask: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What painting each unit alone does to each class's score inside the mask: two (K, C).

    ``draw[k, u]`` is the mean rise of class k's masked score when unit ``u`` is
    drawn under the mask on the latents ``z``; ``remove[k, u]`` the mean fall when
    it is removed, on the quarter of ``z`` whose images look most like class k. A
    good unit for k has both positive. Without a ``mask`` both are averaged over
    :func:`probe_masks`.
    """
    if mask is None:
        pairs = [
            unit_effects(model, classifier, layer, levels, z, None, m)
            for m in probe_masks(model.image_size)
        ]
        report(progress, 1.0)
        return (
            torch.stack([d for d, _ in pairs]).mean(0),
            torch.stack([r for _, r in pairs]).mean(0),
        )
    channels = model.brush_layers[layer][0]
    images = model.decode(z)
    base = classifier.masked_scores(images, mask)
    probabilities = classifier.probabilities(images)
    count = max(1, int(round(len(z) * _REMOVE_SHARE)))
    like = np.argsort(-probabilities, axis=0, kind="stable")[:count]  # (count, K)
    k = len(classifier.class_names)
    draw = torch.zeros(k, channels)
    remove = torch.zeros(k, channels)
    for unit in range(channels):
        drawn = classifier.masked_scores(
            model.decode(z, _edit(model, layer, [unit], "draw", mask, levels)), mask
        )
        removed = classifier.masked_scores(
            model.decode(z, _edit(model, layer, [unit], "remove", mask, levels)), mask
        )
        draw[:, unit] = torch.from_numpy((drawn - base).mean(0)).float()
        fall = base - removed
        remove[:, unit] = torch.from_numpy(
            np.take_along_axis(fall, like, axis=0).mean(0)
        ).float()
        report(progress, (unit + 1) / channels)
    return draw, remove


def grow_unit_set(
    model: LatentModel,
    classifier: ConceptClassifier,
    layer: str,
    levels: torch.Tensor,
    concept: int,
    candidates: torch.Tensor,
    z: torch.Tensor,
) -> list[int]:
    """Qualifying units, best first, kept only while painting them together works better.

    Units that each help alone can cancel or saturate together (ten units drawn at
    their 99th percentile turn a region white or black), so each candidate joins
    the set only if the set's weaker effect, min(rise under draw, fall under
    remove), grows; at most the high intensity's count.
    """
    z_remove = concept_latents(model, classifier, z, concept)
    unedited = (model.decode(z), model.decode(z_remove))
    limit = max(brushes.INTENSITY_UNITS.values())
    kept: list[int] = []
    best = 0.0
    # The best few dozen candidates are enough: later ones rarely join a full set.
    for unit in (int(u) for u in candidates[:_CANDIDATES]):
        rise, fall = weakest_effect(
            model, classifier, layer, levels, [*kept, unit], concept, z, z_remove, unedited
        )
        if min(rise, fall) > best:
            kept.append(unit)
            best = min(rise, fall)
            if len(kept) == limit:
                break
    return kept
