"""Concepts for feature brushes: which units of a layer draw a class, and how high they go.

GANPaint ranks units by how well their activation matches a segmentation
class. Workbench models are trained on labelled images instead (Fashion-MNIST,
digits), so a concept here is a **class**: a small classifier trained on the
same data judges the generated images. Each unit is scored by how much
drawing it raises the classifier's probability for the class (a causal
score, as GANPaint's ACE brushes), or, cheaper and cruder, by the correlation
between its mean activation and that probability. The top units draw the
concept; remove switches them off.

The same statistics pass records each unit's 99th-percentile activation, the
value *draw* writes. :class:`UnitStatistics` saves to a plain ``.npz`` (no
pickle) so a demo checkpoint can ship it and a user checkpoint computes it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from backends.latent import brushes
from backends.progress import ProgressCallback, report


class ConceptError(ValueError):
    """Concept data that cannot be used; the message says what to change."""


@dataclass
class ConceptClassifier:
    """Multinomial logistic regression on pixels: ``weights`` (K, P), ``bias`` (K,)."""

    weights: np.ndarray
    bias: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, int, int]

    def probabilities(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) for images (N, C, H, W) in [0, 1]."""
        x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
        if x.shape[1] != self.weights.shape[1]:
            raise ConceptError(
                f"the concept classifier was trained on {self.image_shape} images, got "
                f"{tuple(np.shape(images))[1:]}; retrain it for this model's image size"
            )
        logits = x @ self.weights.T + self.bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def accuracy(self, images: torch.Tensor | np.ndarray, labels: np.ndarray) -> float:
        return float((self.probabilities(images).argmax(1) == np.asarray(labels)).mean())

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
            class_names=np.array(self.class_names, dtype=str), image_shape=np.array(self.image_shape),
        )

    @classmethod
    def load(cls, path: str | Path) -> ConceptClassifier:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    data["weights"].astype(np.float64), data["bias"].astype(np.float64),
                    [str(c) for c in data["class_names"]],
                    tuple(int(s) for s in data["image_shape"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConceptError(f"{path}: not a concept classifier file ({exc}); retrain it") from exc


def train_concept_classifier(
    images: torch.Tensor | np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    seed: int = 0,
    max_iter: int = 200,
) -> ConceptClassifier:
    """Fit the pixel classifier on dataset images (N, C, H, W) in [0, 1] and their labels."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(images, dtype=np.float32)
    y = np.asarray(labels)
    if x.ndim != 4 or len(x) != len(y):
        raise ConceptError(f"need images (N, C, H, W) and N labels, got {x.shape} and {y.shape}")
    present = np.unique(y)
    if len(present) < 2:
        raise ConceptError("concept ranking needs images of at least two classes")
    classifier = LogisticRegression(max_iter=max_iter, random_state=seed, C=0.1)
    classifier.fit(x.reshape(len(x), -1), y)
    k = len(class_names)
    weights = np.zeros((k, x[0].size))
    # Classes absent from the data keep a very negative bias: never predicted.
    bias = np.full(k, -1e3)
    coef, intercept = classifier.coef_, classifier.intercept_
    if len(classifier.classes_) == 2:  # sklearn's binary case has a single row
        coef = np.stack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    for row, label in enumerate(classifier.classes_):
        weights[int(label)] = coef[row]
        bias[int(label)] = intercept[row]
    return ConceptClassifier(weights, bias, list(class_names), tuple(int(s) for s in x.shape[1:]))


RANKINGS = ("effect", "correlation")


@dataclass
class LayerStatistics:
    """For one layer: each unit's draw level and, per class, units best first."""

    levels: torch.Tensor  # (C,)
    order: dict[str, torch.Tensor] = field(default_factory=dict)  # class -> (C,) unit indices
    score: dict[str, torch.Tensor] = field(default_factory=dict)  # class -> (C,) ranking score


@dataclass
class UnitStatistics:
    """Statistics of every brush layer of one model; ``ranking`` says how units were scored."""

    layers: dict[str, LayerStatistics]
    class_names: list[str]
    samples: int
    ranking: str = "effect"

    def levels(self) -> dict[str, torch.Tensor]:
        return {name: stats.levels for name, stats in self.layers.items()}

    def units(self, layer: str, concept: str, count: int) -> tuple[int, ...]:
        """The ``count`` units of ``layer`` that best bring out ``concept``."""
        stats = self.layers.get(layer)
        if stats is None:
            raise ConceptError(f"no statistics for layer {layer!r}; recompute unit statistics")
        if concept not in stats.order:
            raise ConceptError(f"unknown concept {concept!r}; choose one of {', '.join(stats.order)}")
        return brushes.units_for_intensity(stats.order[concept], count)

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "class_names": np.array(self.class_names, dtype=str),
            "layer_names": np.array(list(self.layers), dtype=str),
            "samples": np.array(self.samples),
            "ranking": np.array(self.ranking),
        }
        for i, (_, stats) in enumerate(self.layers.items()):
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
                    for c, concept in enumerate(class_names):
                        layer.score[concept] = score[c]
                        layer.order[concept] = torch.argsort(score[c], descending=True, stable=True)
                    layers[name] = layer
                return cls(layers, class_names, int(data["samples"]), str(data["ranking"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ConceptError(f"{path}: not a unit statistics file ({exc}); recompute it") from exc


def unit_effects(
    model,  # backends.latent.model.LatentModel  # noqa: ANN001
    classifier: ConceptClassifier,
    layer: str,
    levels: torch.Tensor,
    z: torch.Tensor,
    progress: ProgressCallback | None = None,
) -> torch.Tensor:
    """How much drawing each unit raises each class: (K, C) mean change in class probability.

    Each unit in turn is set to its draw level over the whole layer grid (a
    GANPaint *draw* with a full mask) for the latents ``z``; the classifier
    judges the images before and after. This is a causal score, as
    GANPaint's ACE brushes: units that make the class appear, not merely
    units that happen to be busy when it does.
    """
    channels, h, w = model.brush_layers[layer]
    base = torch.from_numpy(classifier.probabilities(model.decode(z)))
    effects = torch.zeros(len(classifier.class_names), channels)
    for unit in range(channels):
        alpha = torch.zeros(channels, h, w)
        alpha[unit] = 1.0
        value = torch.zeros(channels, h, w)
        value[unit] = float(levels[unit])
        edited = torch.from_numpy(classifier.probabilities(model.decode(z, {layer: (alpha, value)})))
        effects[:, unit] = (edited - base).mean(0).float()
        if progress is not None:
            progress((unit + 1) / channels)
    return effects


def compute_unit_statistics(
    model,  # backends.latent.model.LatentModel (not imported: avoids a cycle)  # noqa: ANN001
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
    g = torch.Generator().manual_seed(seed)
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    probabilities: list[np.ndarray] = []
    latents: list[torch.Tensor] = []
    done = 0
    share = 0.4 if classifier is not None and ranking == "effect" else 0.9
    while done < samples:
        n = min(batch, samples - done)
        z = torch.randn(n, model.latent_dim, generator=g)
        latents.append(z)
        acts = model.activations(z, layers)
        for name in layers:
            captured[name].append(acts[name])
        if classifier is not None and ranking == "correlation":
            probabilities.append(classifier.probabilities(model.decode(z)))
        done += n
        report(progress, share * done / samples)
    class_names = classifier.class_names if classifier is not None else []
    result: dict[str, LayerStatistics] = {}
    for index, name in enumerate(layers):
        acts = torch.cat(captured[name])
        stats = LayerStatistics(brushes.unit_levels(acts))
        if classifier is not None and ranking == "correlation":
            scores = torch.from_numpy(np.concatenate(probabilities))
            activity = acts.mean(dim=(2, 3))
            for c, concept in enumerate(class_names):
                order, corr = brushes.rank_units(activity, scores[:, c])
                stats.order[concept], stats.score[concept] = order, corr
        elif classifier is not None:
            z = torch.cat(latents)[:effect_samples]

            def layer_progress(f: float, i: int = index) -> None:
                report(progress, share + (1 - share) * (i + f) / len(layers))

            effects = unit_effects(model, classifier, name, stats.levels, z, layer_progress)
            for c, concept in enumerate(class_names):
                stats.score[concept] = effects[c]
                stats.order[concept] = torch.argsort(effects[c], descending=True, stable=True)
        result[name] = stats
    report(progress, 1.0)
    return UnitStatistics(result, list(class_names), samples, ranking if classifier is not None else "none")
