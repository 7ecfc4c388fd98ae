"""Concepts for feature brushes: which units of a layer draw a class, and how high they go.

GANPaint ranks units by how well their activation matches a segmentation
class. Workbench models are trained on labelled images instead (Fashion-MNIST,
digits), so a concept here is a **class**: a small classifier trained on the
same data judges the generated images.

A brush acts under a painted mask, so it is judged there: the **concept score
inside the mask** is the classifier's evidence for the class from the masked
pixels alone, ``sum over masked pixels of (w_class - mean_k w_k) * pixel``
(its logit against the average class, so brightening everything does not count
as "more T-shirt"). Each unit is scored by what a masked *draw* of it does to
that score over many latents, and by what a masked *remove* does on latents
whose images show the class (:func:`unit_effects`; a causal score, as GANPaint's
ACE brushes). A unit qualifies for a concept when drawing it raises the score and
removing it lowers it; qualifying units are ranked by the smaller of the two.

When the concept table is built (shipped demos and models a user trains alike)
each concept's unit set is checked at every intensity: drawn together under
the probe mask (the middle of the image) they must raise the score, removed together they must lower it, by
:data:`VERIFY_MARGIN`. Concepts that fail are kept but marked unusable, with the
reason, rather than offered; a concept whose unit set equals a stronger one's on
the same layer is merged into it, so no two offered brushes paint alike.

The same statistics pass records each unit's 99th-percentile activation, the
value *draw* writes. :class:`UnitStatistics` saves to a plain ``.npz`` (no
pickle) so a demo checkpoint can ship it and a user checkpoint computes it once.

This module is the entry (:func:`compute_unit_statistics`) and the vocabulary
the rest of the house imports; the parts live beside it:
:mod:`~backends.latent.concept_classifier` (the classifier),
:mod:`~backends.latent.unit_statistics` (the table and its file),
:mod:`~backends.latent.unit_effects` (the causal measurements) and
:mod:`~backends.latent.concept_check` (the check of every offered brush).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from backends.latent import brushes
from backends.latent.concept_check import VERIFY_MARGIN, check_concepts
from backends.latent.concept_classifier import (
    ConceptClassifier,
    ConceptError,
    train_concept_classifier,
)
from backends.latent.model import LatentModel
from backends.latent.unit_effects import (
    brush_effect,
    concept_latents,
    grow_unit_set,
    probe_mask,
    probe_masks,
    unit_effects,
    weakest_effect,
)
from backends.latent.unit_statistics import LayerStatistics, UnitStatistics
from backends.progress import ProgressCallback, report

__all__ = [
    "RANKINGS",
    "VERIFY_MARGIN",
    "ConceptClassifier",
    "ConceptError",
    "LayerStatistics",
    "UnitStatistics",
    "brush_effect",
    "check_concepts",
    "compute_unit_statistics",
    "concept_latents",
    "probe_mask",
    "probe_masks",
    "train_concept_classifier",
    "unit_effects",
    "weakest_effect",
]

RANKINGS = ("effect", "correlation")


def compute_unit_statistics(
    model: LatentModel,
    classifier: ConceptClassifier | None,
    samples: int = 512,
    seed: int = 0,
    batch: int = 128,
    ranking: str = "effect",
    effect_samples: int = 128,
    progress: ProgressCallback | None = None,
) -> UnitStatistics:
    """Run ``samples`` prior latents through the model: draw levels and per-class unit rankings.

    ``ranking="effect"`` (default) scores units by the causal effect of
    drawing them (:func:`unit_effects`, on ``effect_samples`` latents);
    ``"correlation"`` by the correlation between a unit's mean activation and
    the classifier's probability for the class. Without a classifier only
    the draw levels are computed (units are then picked by hand).
    """
    if samples < 8:
        raise ConceptError(f"unit statistics need at least 8 samples, got {samples}")
    if ranking not in RANKINGS:
        raise ConceptError(f"unknown unit ranking {ranking!r}; use one of {', '.join(RANKINGS)}")
    layers = list(model.brush_layers)
    share = 0.4 if classifier is not None and ranking == "effect" else 0.9
    correlate = classifier if ranking == "correlation" else None
    activations, latents, probabilities = _sample_activations(
        model, correlate, samples, seed, batch, lambda f: report(progress, share * f)
    )
    result: dict[str, LayerStatistics] = {}
    for index, name in enumerate(layers):
        stats = LayerStatistics(brushes.unit_levels(activations[name]))
        if classifier is not None and probabilities is not None:
            _rank_by_correlation(stats, activations[name], probabilities, classifier.class_names)
        elif classifier is not None:

            def layer_progress(f: float, i: int = index) -> None:
                report(progress, share + (1 - share) * (i + f) / len(layers))

            _rank_by_effect(model, classifier, name, stats, latents[:effect_samples], layer_progress)
        result[name] = stats
    class_names = classifier.class_names if classifier is not None else []
    out = UnitStatistics(
        result, list(class_names), samples, ranking if classifier is not None else "none"
    )
    if classifier is not None:
        check_concepts(model, classifier, out, seed=seed + 1)
    report(progress, 1.0)
    return out


def _sample_activations(
    model: LatentModel,
    correlate: ConceptClassifier | None,
    samples: int,
    seed: int,
    batch: int,
    progress: Callable[[float], None],
) -> tuple[dict[str, torch.Tensor], torch.Tensor, np.ndarray | None]:
    """Every brush layer's activations for ``samples`` prior latents, the latents, and (with
    ``correlate``) that classifier's probabilities for their images."""
    layers = list(model.brush_layers)
    g = torch.Generator().manual_seed(seed)
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    probabilities: list[np.ndarray] = []
    latents: list[torch.Tensor] = []
    done = 0
    while done < samples:
        n = min(batch, samples - done)
        z = torch.randn(n, model.latent_dim, generator=g)
        latents.append(z)
        acts = model.activations(z, layers)
        for name in layers:
            captured[name].append(acts[name])
        if correlate is not None:
            probabilities.append(correlate.probabilities(model.decode(z)))
        done += n
        progress(done / samples)
    return (
        {name: torch.cat(parts) for name, parts in captured.items()},
        torch.cat(latents),
        np.concatenate(probabilities) if correlate is not None else None,
    )


def _rank_by_correlation(
    stats: LayerStatistics, acts: torch.Tensor, probabilities: np.ndarray, class_names: list[str]
) -> None:
    """Rank units per class by how their mean activation follows the class probability."""
    scores = torch.from_numpy(probabilities)
    activity = acts.mean(dim=(2, 3))
    for c, concept in enumerate(class_names):
        order, corr = brushes.rank_units(activity, scores[:, c])
        stats.order[concept], stats.score[concept] = order, corr
    for concept in class_names:
        stats.available[concept] = int((stats.score[concept] > 0).sum())


def _rank_by_effect(
    model: LatentModel,
    classifier: ConceptClassifier,
    layer: str,
    stats: LayerStatistics,
    z: torch.Tensor,
    progress: ProgressCallback,
) -> None:
    """Rank units per class by what drawing and removing them does; the grown set goes first."""
    draw, remove = unit_effects(model, classifier, layer, stats.levels, z, progress)
    for c, concept in enumerate(classifier.class_names):
        # A unit qualifies when drawing raises the score and removing lowers it.
        score = torch.minimum(draw[c], remove[c])
        order = torch.argsort(score, descending=True, stable=True)
        kept = grow_unit_set(
            model, classifier, layer, stats.levels, c, order[: int((score > 0).sum())], z
        )
        rest = [int(u) for u in order if int(u) not in kept]
        stats.order[concept] = torch.tensor(kept + rest, dtype=torch.long)
        # The saved score reproduces this order: kept units first, in order.
        stats.score[concept] = torch.zeros_like(score)
        stats.score[concept][stats.order[concept]] = torch.linspace(
            1.0, -1.0, len(score)
        ) - 2.0 * (torch.arange(len(score)) >= len(kept)).float()
        stats.available[concept] = len(kept)
