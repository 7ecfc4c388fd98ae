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
"""

from __future__ import annotations

import math
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

    def masked_scores(self, images: torch.Tensor | np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Each class's evidence from the pixels under ``mask`` (H, W): (N, K) contrast logits.

        ``sum over masked pixels of (w_k - mean_j w_j) * x``: the part of class k's
        logit against the average class that the masked pixels contribute.
        """
        x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
        keep = np.broadcast_to(np.asarray(mask, dtype=bool), self.image_shape).reshape(-1)
        if keep.shape[0] != x.shape[1]:
            raise ConceptError(
                f"a mask of shape {np.shape(mask)} does not fit {self.image_shape} images"
            )
        contrast = self.weights - self.weights.mean(0, keepdims=True)
        return x[:, keep] @ contrast[:, keep].T

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
        return brushes.units_for_intensity(order, count)

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {
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


#: How much a concept's unit set must move the concept score inside the probe mask
#: (mean change of the masked contrast logit) for its brush to be offered.
VERIFY_MARGIN = 0.1
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


def _edit(model, layer: str, units: Sequence[int], mode: str, mask: np.ndarray, levels):
    stroke = brushes.Stroke(layer, tuple(int(u) for u in units), mode, mask)
    return brushes.composite([stroke], {layer: model.brush_layers[layer]}, {layer: levels})


def concept_latents(
    model, classifier: ConceptClassifier, z: torch.Tensor, concept: int
) -> torch.Tensor:
    """The latents among ``z`` whose images look most like ``concept`` (a quarter of them)."""
    p = classifier.probabilities(model.decode(z))[:, concept]
    count = max(1, int(round(len(z) * _REMOVE_SHARE)))
    return z[torch.from_numpy(np.argsort(-p, kind="stable")[:count].copy())]


def brush_effect(
    model,
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
    model,
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
    model,  # backends.latent.model.LatentModel
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


def _grow_unit_set(
    model,
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


def check_concepts(
    model,
    classifier: ConceptClassifier,
    stats: UnitStatistics,
    seed: int = 1,
    samples: int = 128,
    progress: ProgressCallback | None = None,
) -> None:
    """Mark, per layer, the concepts whose brushes fail or duplicate another's (in place).

    Every concept's unit set at every intensity is drawn under each of
    :func:`probe_masks` on ``samples`` latents and removed on those showing the concept; both must move
    the score by :data:`VERIFY_MARGIN`. Of concepts with equal unit sets on one
    layer, the one with the larger margin stays and the others are merged into it.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, model.latent_dim, generator=g)
    names = stats.class_names
    jobs = [(layer, c) for layer in stats.layers for c in range(len(names))]
    counts = sorted(set(brushes.INTENSITY_UNITS.values()))
    margins: dict[tuple[str, str], float] = {}
    for done, (layer, c) in enumerate(jobs):
        layer_stats = stats.layers[layer]
        concept = names[c]
        available = layer_stats.available.get(concept, len(layer_stats.levels))
        if available == 0:
            layer_stats.unusable[concept] = (
                "no unit of this layer raises its score when drawn and lowers it when removed"
            )
            continue
        z_remove = concept_latents(model, classifier, z, c)
        unedited = (model.decode(z), model.decode(z_remove))
        worst = math.inf
        for count in counts:
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
                break
        else:
            layer_stats.unusable[concept] = ""
            margins[(layer, concept)] = worst
        report(progress, (done + 1) / len(jobs))
    for layer, layer_stats in stats.layers.items():
        offered = sorted(
            stats.offered(layer), key=lambda c, la=layer: -margins.get((la, c), 0.0)
        )
        kept: list[str] = []
        for concept in offered:
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
                layer_stats.unusable[concept] = (
                    f"it paints with the same units as {twin}: merged into {twin}"
                )
    stats.verified = True


def compute_unit_statistics(
    model,  # backends.latent.model.LatentModel (not imported: avoids a cycle)
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

            draw, remove = unit_effects(model, classifier, name, stats.levels, z, layer_progress)
            for c, concept in enumerate(class_names):
                # A unit qualifies when drawing raises the score and removing lowers it.
                score = torch.minimum(draw[c], remove[c])
                order = torch.argsort(score, descending=True, stable=True)
                kept = _grow_unit_set(
                    model, classifier, name, stats.levels, c, order[: int((score > 0).sum())], z
                )
                rest = [int(u) for u in order if int(u) not in kept]
                stats.order[concept] = torch.tensor(kept + rest, dtype=torch.long)
                # The saved score reproduces this order: kept units first, in order.
                stats.score[concept] = torch.zeros_like(score)
                stats.score[concept][stats.order[concept]] = torch.linspace(
                    1.0, -1.0, len(score)
                ) - 2.0 * (torch.arange(len(score)) >= len(kept)).float()
                stats.available[concept] = len(kept)
        if classifier is not None and ranking == "correlation":
            for concept in class_names:
                stats.available[concept] = int((stats.score[concept] > 0).sum())
        result[name] = stats
    out = UnitStatistics(
        result, list(class_names), samples, ranking if classifier is not None else "none"
    )
    if classifier is not None:
        check_concepts(model, classifier, out, seed=seed + 1)
    report(progress, 1.0)
    return out
