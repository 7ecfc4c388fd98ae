"""Paths through latent space: lerp, guarded slerp, N-step strips and four-corner planes.

Gaussian latents (a GAN's z, a VAE's prior samples) concentrate near the
sphere of radius sqrt(d). A straight line between two of them dips towards
the origin (the midpoint of two near-orthogonal samples has norm about
sqrt(d / 2)), which decoders render as washed-out, low-contrast images.
Spherical interpolation follows the great circle instead and keeps the norm
typical. Use slerp for Gaussian latents; lerp for encoder means, activations
and anything that is not a Gaussian sample.

Everything here works on torch tensors of shape ``(..., d)`` and needs no model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

METHODS = ("lerp", "slerp")
# Below this sin(angle) the two vectors are (anti)parallel to float precision:
# slerp's 1/sin(omega) would blow up, and lerp is what slerp tends to anyway.
SLERP_EPS = 1e-6


class InterpolationError(ValueError):
    """Anchors or parameters that cannot define a path; the message says the fix."""


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation ``(1 - t) a + t b`` (``t`` broadcasts)."""
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    return a + (b - a) * t


def slerp(
    a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor, eps: float = SLERP_EPS
) -> torch.Tensor:
    """Spherical interpolation along the great circle from ``a`` to ``b``.

    ``a`` and ``b`` have shape ``(..., d)``; ``t`` is a scalar or broadcasts
    against the leading dimensions. Norms are interpolated along with the
    angle (the textbook formula, not a unit-sphere one), so slerp between two
    vectors of norm r keeps norm r. The cosine is clipped to [-1, 1] and rows
    whose angle is (numerically) 0 or 180 degrees fall back to lerp, so the
    result never holds NaN.
    """
    if a.shape[-1] != b.shape[-1]:
        raise InterpolationError(
            f"cannot interpolate latents of different sizes ({a.shape[-1]} and {b.shape[-1]})"
        )
    dtype = a.dtype
    a64, b64 = a.double(), b.double()
    t64 = torch.as_tensor(t, dtype=torch.float64, device=a.device)
    if t64.dim() > 0 and t64.shape[-1:] != (1,):
        t64 = t64.unsqueeze(-1)  # a t per row: (...,) -> (..., 1)
    na = a64.norm(dim=-1, keepdim=True)
    nb = b64.norm(dim=-1, keepdim=True)
    denom = (na * nb).clamp_min(torch.finfo(torch.float64).tiny)
    cos = ((a64 * b64).sum(-1, keepdim=True) / denom).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe = sin > eps
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    wa = torch.sin((1.0 - t64) * omega) / sin_safe
    wb = torch.sin(t64 * omega) / sin_safe
    spherical = wa * a64 + wb * b64
    straight = a64 + (b64 - a64) * t64
    return torch.where(safe, spherical, straight).to(dtype)


def interpolate(
    a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor, method: str = "slerp"
) -> torch.Tensor:
    """``lerp`` or ``slerp`` by name."""
    if method == "lerp":
        return lerp(a, b, t)
    if method == "slerp":
        return slerp(a, b, t)
    raise InterpolationError(f"unknown interpolation {method!r}; use one of {', '.join(METHODS)}")


def _as_anchors(anchors: torch.Tensor | Sequence[torch.Tensor], minimum: int) -> torch.Tensor:
    stacked = anchors if isinstance(anchors, torch.Tensor) else torch.stack(list(anchors))
    if stacked.dim() != 2:
        raise InterpolationError(
            f"anchors must be a list of latent vectors (shape (k, d)), got shape {tuple(stacked.shape)}"
        )
    if stacked.shape[0] < minimum:
        raise InterpolationError(
            f"need at least {minimum} anchors, got {stacked.shape[0]}; choose more cells"
        )
    return stacked


def path_point(
    anchors: torch.Tensor | Sequence[torch.Tensor], t: float, method: str = "slerp"
) -> torch.Tensor:
    """The point at ``t`` in [0, 1] on the piecewise path through two or more anchors.

    The path spends an equal share of ``t`` on each segment, so with anchors
    A, B, C the slider's middle is exactly B.
    """
    points = _as_anchors(anchors, 2)
    t = min(1.0, max(0.0, float(t)))
    segments = points.shape[0] - 1
    position = t * segments
    index = min(int(position), segments - 1)
    return interpolate(points[index], points[index + 1], position - index, method)


def strip(
    anchors: torch.Tensor | Sequence[torch.Tensor], steps: int, method: str = "slerp"
) -> torch.Tensor:
    """``steps`` evenly spaced points along the anchor path, both ends included: ``(steps, d)``."""
    if steps < 2:
        raise InterpolationError(f"a strip needs at least 2 steps, got {steps}")
    points = _as_anchors(anchors, 2)
    return torch.stack([path_point(points, i / (steps - 1), method) for i in range(steps)])


def plane_point(
    corners: torch.Tensor | Sequence[torch.Tensor], u: float, v: float, method: str = "slerp"
) -> torch.Tensor:
    """A point of the plane spanned by four corners, ``u``, ``v`` in [0, 1].

    Corners are ordered top-left, top-right, bottom-left, bottom-right. The
    top and bottom edges are interpolated along ``u`` first, then the two
    results along ``v``; with lerp this is the usual bilinear blend with
    weights (1-u)(1-v), u(1-v), (1-u)v, uv.
    """
    points = _as_anchors(corners, 4)
    if points.shape[0] != 4:
        raise InterpolationError(f"a plane needs exactly 4 corners, got {points.shape[0]}")
    top = interpolate(points[0], points[1], u, method)
    bottom = interpolate(points[2], points[3], u, method)
    return interpolate(top, bottom, v, method)


def plane(
    corners: torch.Tensor | Sequence[torch.Tensor], rows: int, cols: int, method: str = "slerp"
) -> torch.Tensor:
    """A ``(rows, cols, d)`` grid over the four-corner plane, corners at the grid corners."""
    if rows < 2 or cols < 2:
        raise InterpolationError(f"a plane needs at least 2x2 cells, got {rows}x{cols}")
    return torch.stack(
        [
            torch.stack(
                [plane_point(corners, c / (cols - 1), r / (rows - 1), method) for c in range(cols)]
            )
            for r in range(rows)
        ]
    )
