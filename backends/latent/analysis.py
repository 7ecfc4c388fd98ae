"""Passes over a whole model that feed the studio's sliders and brushes.

Each pass samples or encodes many images once and returns plain results the
panel keeps: principal directions of a layer, class directions, the concept
classifier and unit statistics. They take a ``progress`` callback and can be
cancelled through it. A demo checkpoint ships its classifier and statistics
(``concepts.npz``, ``unit_stats.npz``); other checkpoints compute them on
first use from the dataset named in their ``meta.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backends.latent import concepts, directions
from backends.latent.model import LatentModel
from backends.progress import ProgressCallback, report

CLASSIFIER_FILE = "concepts.npz"
STATS_FILE = "unit_stats.npz"


class AnalysisError(ValueError):
    """A pass that cannot run on this model or data; the message says what to do."""


@dataclass
class LabelledImages:
    """Dataset images in the model's shape, (N, C, H, W) in [0, 1], with labels."""

    images: torch.Tensor
    labels: np.ndarray
    class_names: list[str]
    name: str


def dataset_for(model: LatentModel, limit: int = 3000, seed: int = 0) -> LabelledImages:
    """Labelled images like the ones the model was trained on, resized to its image size.

    Reads the dataset named in the checkpoint's meta (``dataset``), else the
    best offline source for the model's image size.
    """
    from backends.data.images import load_images

    named = model.meta.get("dataset")
    if isinstance(named, dict):
        named = named.get("name") or named.get("dataset")
    name = named if isinstance(named, str) and named else ("digits" if model.image_size <= 8 else "auto")
    try:
        images = load_images(name)
    except Exception as exc:  # noqa: BLE001 - DataError or an unknown name: one readable line
        try:
            images = load_images("auto")
        except Exception:  # noqa: BLE001
            raise AnalysisError(f"cannot read the dataset {name!r} for concepts ({exc})") from exc
    if model.channels != 1:
        raise AnalysisError(
            f"concepts need labelled images with {model.channels} channels; the datasets here are grey"
        )
    rng = np.random.default_rng(seed)
    index = rng.permutation(len(images))[:limit]
    pixels = torch.from_numpy(images.images[index]).float().div(255.0).unsqueeze(1)
    if pixels.shape[-1] != model.image_size:
        pixels = F.interpolate(pixels, size=(model.image_size, model.image_size), mode="bilinear",
                               align_corners=False, antialias=True).clamp(0, 1)
    return LabelledImages(pixels, images.labels[index], list(images.class_names), images.name)


def concept_classifier_for(
    model: LatentModel, data: LabelledImages | None = None, progress: ProgressCallback | None = None
) -> concepts.ConceptClassifier:
    """The shipped classifier next to the checkpoint, else one trained on the dataset now."""
    shipped = Path(model.source) / CLASSIFIER_FILE
    if shipped.is_file():
        classifier = concepts.ConceptClassifier.load(shipped)
        if classifier.image_shape == (model.channels, model.image_size, model.image_size):
            return classifier
    data = data or dataset_for(model)
    report(progress, 0.2)
    classifier = concepts.train_concept_classifier(data.images, data.labels, data.class_names)
    report(progress, 1.0)
    return classifier


def unit_statistics_for(
    model: LatentModel,
    classifier: concepts.ConceptClassifier | None,
    samples: int = 1024,
    progress: ProgressCallback | None = None,
) -> concepts.UnitStatistics:
    """The shipped statistics next to the checkpoint when they fit, else a fresh pass."""
    shipped = Path(model.source) / STATS_FILE
    if shipped.is_file():
        try:
            stats = concepts.UnitStatistics.load(shipped)
        except concepts.ConceptError:
            stats = None
        # Statistics from before brushes were checked against their concepts are redone.
        if stats is not None and (stats.verified or classifier is None) and set(
            stats.layers
        ) == set(model.brush_layers) and all(
            len(stats.layers[n].levels) == model.brush_layers[n][0] for n in stats.layers
        ):
            return stats
    return concepts.compute_unit_statistics(model, classifier, samples=samples, progress=progress)


def principal_directions_for(
    model: LatentModel,
    layer: str,
    samples: int = 1000,
    components: int = 8,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> list[directions.Direction]:
    """GANSpace directions of ``layer``: PCA of its activations regressed onto z."""
    if layer not in model.brush_layers:
        raise AnalysisError(f"layer {layer!r} is not an inner layer of this model; "
                            f"choose one of {', '.join(model.brush_layers)}")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, model.latent_dim, generator=g)
    chunks = []
    for start in range(0, samples, 250):
        chunks.append(model.activations(z[start : start + 250], [layer])[layer].reshape(
            len(z[start : start + 250]), -1))
        report(progress, 0.8 * min(samples, start + 250) / samples)
    found = directions.principal_directions(z, torch.cat(chunks), components)
    report(progress, 1.0)
    return [
        directions.Direction(f"{layer} PC{i + 1} ({d.score:.0%})", d.vector, d.sigma, d.score)
        for i, d in enumerate(found)
    ]


def class_direction_for(
    model: LatentModel,
    source: int,
    target: int,
    method: str = "mean",
    classifier: concepts.ConceptClassifier | None = None,
    data: LabelledImages | None = None,
    samples: int = 2000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> directions.Direction:
    """A class direction (``"mean"`` difference or linear ``"boundary"``), source → target.

    A VAE with data uses its encoder on real labelled images. Otherwise
    (any GAN) prior samples are labelled by the concept classifier and the
    most confident quarter of each class is kept.
    """
    if method not in ("mean", "boundary"):
        raise AnalysisError(f"unknown class direction method {method!r}; use mean or boundary")
    if model.can_encode and data is not None:
        latents = torch.cat([model.encode(data.images[i : i + 500]) for i in range(0, len(data.images), 500)])
        labels = data.labels
        names = data.class_names
    else:
        if classifier is None:
            raise AnalysisError("class directions for a GAN need the concept classifier; compute concepts first")
        g = torch.Generator().manual_seed(seed)
        latents = torch.randn(samples, model.latent_dim, generator=g)
        probs = np.concatenate([
            classifier.probabilities(model.decode(latents[i : i + 250])) for i in range(0, samples, 250)
        ])
        labels = np.full(samples, -1)
        for c in (source, target):
            p = probs[:, c]
            best = probs.argmax(1) == c
            if best.sum() >= 2:
                cut = np.quantile(p[best], 0.75) if best.sum() >= 8 else p[best].min()
                labels[best & (p >= cut)] = c
        names = classifier.class_names
    report(progress, 0.7)
    label = f"{names[source]} → {names[target]}" if max(source, target) < len(names) else ""
    try:
        if method == "mean":
            found = directions.class_mean_direction(latents, labels, source, target, label)
        else:
            found = directions.linear_boundary_direction(latents, labels, source, target, label + " (boundary)")
    except directions.DirectionError as exc:
        raise AnalysisError(
            f"{exc}; this model rarely makes {names[source] if source < len(names) else source} "
            f"or {names[target] if target < len(names) else target}"
        ) from exc
    report(progress, 1.0)
    return found


@dataclass
class OpenedModel:
    """A model opened for the studio with what its brushes need; ``note`` says what is missing."""

    model: LatentModel
    classifier: concepts.ConceptClassifier | None
    stats: concepts.UnitStatistics
    note: str = ""


def open_with_concepts(path: str | Path) -> OpenedModel:
    """Open a checkpoint, run folder or demo name with its concept classifier and unit statistics.

    Concepts are optional: when the classifier cannot be had, the model opens
    without it and ``note`` says why.
    """
    from backends.latent.model import open_latent_model

    model = open_latent_model(path)
    classifier = None
    try:
        classifier = concept_classifier_for(model)
    except Exception as exc:  # noqa: BLE001 - concepts are optional; the studio still works
        note = f"concepts unavailable ({exc})"
    else:
        note = ""
    # Large decoders (a Stable Diffusion VAE) take fewer samples: seconds per image on a CPU.
    samples = getattr(model, "statistics_samples", 512)
    stats = unit_statistics_for(model, classifier, samples=samples)
    return OpenedModel(model, classifier, stats, note)


def open_for_compare(path: str | Path) -> OpenedModel:
    """Open a second checkpoint to render beside the first: draw levels only, no concepts."""
    from backends.latent.model import open_latent_model

    model = open_latent_model(path)
    return OpenedModel(model, None, unit_statistics_for(model, None, samples=256))


@dataclass
class FoundClassDirection:
    """A class direction and the dataset it was found on (loaded for a VAE), to keep."""

    direction: directions.Direction
    data: LabelledImages | None


def class_direction_with_data(
    model: LatentModel,
    source: int,
    target: int,
    method: str,
    classifier: concepts.ConceptClassifier | None,
    data: LabelledImages | None,
    progress: ProgressCallback | None = None,
) -> FoundClassDirection:
    """:func:`class_direction_for`, loading a VAE's dataset first when none is given."""
    if model.can_encode and data is None:
        data = dataset_for(model, limit=2000)
    found = class_direction_for(model, source, target, method, classifier, data, progress=progress)
    return FoundClassDirection(found, data)
