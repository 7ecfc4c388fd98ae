"""The concept classifier: a pixel logistic regression that says which class an image shows.

Concepts for feature brushes are classes (Fashion-MNIST, digits); this small
classifier, trained on the same data as the model, judges generated images,
and its weights give the **concept score inside a mask** (see
:mod:`backends.latent.concepts`). It saves to a plain ``.npz`` (no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


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
                    _image_shape(data["image_shape"]),
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
    return ConceptClassifier(weights, bias, list(class_names), _image_shape(x.shape[1:]))


def _image_shape(shape: Sequence[int] | np.ndarray) -> tuple[int, int, int]:
    """An image shape (C, H, W) as three ints; anything else is refused."""
    dims = tuple(int(s) for s in shape)
    if len(dims) != 3:
        raise ConceptError(f"an image shape has three sizes (C, H, W), got {dims}")
    return dims[0], dims[1], dims[2]
