"""Directions in latent space for sliders: principal directions and class directions.

Two ways to find a direction worth pushing along:

* **Principal directions** (as GANSpace): sample many latents, run the model
  to an inner layer, take the principal components of those activations, and
  regress each component's coordinates back onto the latent by least squares.
  The regression turns "what varies most inside the network" into a vector
  you can add to z. Each direction comes with the standard deviation σ of the
  latents projected onto it, so sliders read in units of σ.
* **Class directions** from labelled latents: the difference of the class
  means (source → target), or the unit normal of a linear classifier that
  separates the two classes (as InterFaceGAN).

The maths here needs no model: callers pass latents, activations and labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


class DirectionError(ValueError):
    """Inputs that cannot define a direction; the message says what to change."""


@dataclass(frozen=True)
class Direction:
    """A unit vector in latent space with the spread of latents along it.

    ``sigma`` is the standard deviation of the sampled latents projected on
    ``vector``: moving by ``k * sigma`` is a k-sigma edit. ``score`` is what
    ranked it (explained variance ratio for PCA, the class-mean distance in σ
    for classes).
    """

    name: str
    vector: torch.Tensor
    sigma: float
    score: float = 0.0


def apply_directions(
    z: torch.Tensor, directions: list[Direction], amounts_in_sigma: list[float]
) -> torch.Tensor:
    """``z + Σ amount_i σ_i d_i`` for every direction with a non-zero amount."""
    if len(directions) != len(amounts_in_sigma):
        raise DirectionError(
            f"{len(directions)} directions but {len(amounts_in_sigma)} slider values"
        )
    out = z.clone()
    for direction, amount in zip(directions, amounts_in_sigma, strict=True):
        if amount:
            out = out + float(amount) * direction.sigma * direction.vector.to(out.dtype)
    return out


def pca(features: torch.Tensor, n_components: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Principal components of ``features`` (N, D): ``(components (k, D), mean (D,), ratio (k,))``.

    Components are unit rows sorted by explained variance (``ratio`` sums to
    at most 1). Signs are made deterministic: each component's largest-magnitude
    loading is positive, so the same data always gives the same slider sign.
    """
    if features.dim() != 2:
        raise DirectionError(f"features must be (samples, values), got {tuple(features.shape)}")
    n, d = features.shape
    if n < 2:
        raise DirectionError(f"PCA needs at least 2 samples, got {n}")
    k = min(n_components, n - 1, d)
    if k < 1:
        raise DirectionError("PCA needs at least one component")
    x = features.double()
    mean = x.mean(0)
    centred = x - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = s**2
    total = variance.sum().clamp_min(torch.finfo(torch.float64).tiny)
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    signs[signs == 0] = 1.0
    components = components * signs
    return components.float(), mean.float(), (variance[:k] / total).float()


def regress_to_latent(latents: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
    """Least-squares map from activation coordinates back to latent space.

    Solves ``latents ≈ coordinates @ M`` for M (k, d); row i of M is the
    latent-space direction whose movement best reproduces a unit step along
    component i. Rows are returned normalised to unit length.
    """
    if latents.shape[0] != coordinates.shape[0]:
        raise DirectionError(
            f"{latents.shape[0]} latents but {coordinates.shape[0]} coordinate rows"
        )
    z = latents.double() - latents.double().mean(0)
    c = coordinates.double() - coordinates.double().mean(0)
    solution = torch.linalg.lstsq(c, z).solution  # (k, d)
    norms = solution.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (solution / norms).float()


def principal_directions(
    latents: torch.Tensor, activations: torch.Tensor, n_components: int = 8
) -> list[Direction]:
    """GANSpace directions from latents ``(N, d)`` and their activations ``(N, ...)``."""
    if latents.shape[0] != activations.shape[0]:
        raise DirectionError(
            f"{latents.shape[0]} latents but {activations.shape[0]} activation rows"
        )
    flat = activations.reshape(activations.shape[0], -1)
    components, mean, ratio = pca(flat, n_components)
    coordinates = (flat.double() - mean.double()) @ components.double().T
    vectors = regress_to_latent(latents, coordinates)
    # Row i inherits component i's sign, so a positive slider raises that coordinate.
    projections = latents.double() @ vectors.double().T
    sigma = projections.std(0)
    return [
        Direction(f"PC{i + 1}", vectors[i], float(sigma[i]), float(ratio[i]))
        for i in range(vectors.shape[0])
    ]


def _class_rows(latents: torch.Tensor, labels: np.ndarray, label: int) -> torch.Tensor:
    rows = latents[torch.as_tensor(np.asarray(labels) == label)]
    if rows.shape[0] < 2:
        raise DirectionError(
            f"class {label} has {rows.shape[0]} labelled latents; at least 2 are needed "
            f"(encode or sample more images of that class)"
        )
    return rows


def class_mean_direction(
    latents: torch.Tensor, labels: np.ndarray, source: int, target: int, name: str = ""
) -> Direction:
    """Unit vector from the mean latent of class ``source`` to that of ``target``.

    ``sigma`` is the spread of all latents along the vector and ``score`` the
    distance between the two class means in units of it, so the slider value
    that carries an average source latent to the target mean is ``score``.
    """
    if source == target:
        raise DirectionError("source and target classes are the same; pick two different classes")
    a = _class_rows(latents, labels, source).double().mean(0)
    b = _class_rows(latents, labels, target).double().mean(0)
    difference = b - a
    distance = float(difference.norm())
    if distance < 1e-12:
        raise DirectionError(f"classes {source} and {target} have the same mean latent")
    vector = difference / distance
    sigma = float((latents.double() @ vector).std())
    sigma = sigma if sigma > 0 else 1.0
    return Direction(name or f"{source}→{target}", vector.float(), sigma, distance / sigma)


def linear_boundary_direction(
    latents: torch.Tensor, labels: np.ndarray, source: int, target: int, name: str = "", seed: int = 0
) -> Direction:
    """Unit normal of a logistic-regression boundary separating ``source`` from ``target``.

    As InterFaceGAN: the normal points towards ``target``; ``score`` is the
    classifier's training accuracy, a quick check that the classes are
    linearly separable at all in this latent space.
    """
    from sklearn.linear_model import LogisticRegression

    if source == target:
        raise DirectionError("source and target classes are the same; pick two different classes")
    a = _class_rows(latents, labels, source).double().numpy()
    b = _class_rows(latents, labels, target).double().numpy()
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    classifier = LogisticRegression(max_iter=1000, random_state=seed).fit(x, y)
    normal = torch.from_numpy(classifier.coef_[0]).double()
    vector = normal / normal.norm().clamp_min(1e-12)
    sigma = float((latents.double() @ vector).std())
    sigma = sigma if sigma > 0 else 1.0
    return Direction(
        name or f"{source}→{target} (boundary)", vector.float(), sigma, float(classifier.score(x, y))
    )
