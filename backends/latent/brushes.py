"""Feature brushes (as GANPaint): masked edits of a generator's inner feature maps.

A brush does not touch the latent. It rewrites chosen channels ("units") of
an inner layer under a painted mask, then lets the rest of the network run:

* a **stroke** names a layer, the units it edits, a mode and a painted mask.
  *draw* sets the units to a high activation (each unit's 99th percentile over
  many samples), *remove* sets them to zero; intensity is how many units.
* the mask is painted at image resolution and **pooled to the layer's grid
  by adaptive max pooling**: a painted pixel switches on the whole layer cell
  it falls in, which is why edits on coarse layers look blocky.
* strokes are composited front to back with the "over" rule, so the later
  stroke wins where they overlap::

      alpha <- 1 - (1 - alpha_new)(1 - alpha_acc)
      value <- (value_acc alpha_acc (1 - alpha_new) + value_new alpha_new) / alpha

* the composite is applied in a forward hook as ``x <- x (1 - alpha) + value alpha``.

Undo never inverts an edit: the image is recomputed from the strokes that
remain (:class:`StrokeStack`), so undo returns exactly the previous image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from backends.latent.strokes import (  # noqa: F401  (re-exported: the brush vocabulary)
    DRAW_QUANTILE,
    INTENSITY_UNITS,
    MODES,
    POOLINGS,
    BrushError,
    Stroke,
    StrokeStack,
    units_for_intensity,
)


def pool_mask(mask: np.ndarray | torch.Tensor, size: tuple[int, int], pooling: str = "max") -> torch.Tensor:
    """A painted mask (H, W) pooled to a layer's (h, w) grid, values in [0, 1]."""
    m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)[None, None]
    if pooling == "max":
        pooled = F.adaptive_max_pool2d(m, size)
    elif pooling == "mean":
        pooled = F.adaptive_avg_pool2d(m, size)
    else:
        raise BrushError(f"unknown mask pooling {pooling!r}; use max or mean")
    return pooled[0, 0]


def upsample_grid(grid: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """A layer-grid mask (h, w) shown at image size (H, W), nearest neighbour: the overlay."""
    up = F.interpolate(grid[None, None].float(), size=size, mode="nearest")
    return up[0, 0].numpy()


def stroke_tensors(
    stroke: Stroke, shape: tuple[int, int, int], levels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The stroke as per-position (alpha, value), both (C, h, w), for a layer of ``shape``."""
    channels, h, w = shape
    bad = [u for u in stroke.units if not 0 <= u < channels]
    if bad:
        raise BrushError(
            f"units {bad} do not exist in layer {stroke.layer} (it has {channels} units, 0-{channels - 1})"
        )
    units = torch.as_tensor(stroke.units, dtype=torch.long)
    grid = pool_mask(stroke.mask, (h, w), stroke.pooling)
    alpha = torch.zeros(channels, h, w)
    alpha[units] = grid
    value = torch.zeros(channels, h, w)
    if stroke.value is not None:
        value[units] = float(stroke.value)
    elif stroke.mode == "draw":
        if levels is None:
            raise BrushError(f"no activation levels for layer {stroke.layer}; compute unit statistics first")
        value[units] = levels.float()[units][:, None, None]
    return alpha, value


def composite(
    strokes: Sequence[Stroke],
    shapes: Mapping[str, tuple[int, int, int]],
    levels: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Strokes in order (oldest first) composited "over" into one (alpha, value) per layer."""
    levels = levels or {}
    result: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for stroke in strokes:
        if stroke.layer not in shapes:
            raise BrushError(
                f"layer {stroke.layer!r} is not a brush layer of this model; "
                f"choose one of {', '.join(shapes)}"
            )
        a_new, v_new = stroke_tensors(stroke, shapes[stroke.layer], levels.get(stroke.layer))
        if stroke.layer not in result:
            result[stroke.layer] = (a_new, v_new * (a_new > 0))
            continue
        a_acc, v_acc = result[stroke.layer]
        alpha = 1.0 - (1.0 - a_new) * (1.0 - a_acc)
        numerator = v_acc * a_acc * (1.0 - a_new) + v_new * a_new
        value = torch.where(alpha > 0, numerator / alpha.clamp_min(1e-12), torch.zeros_like(alpha))
        result[stroke.layer] = (alpha, value)
    return result


def apply_edit(x: torch.Tensor, alpha: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``x (1 - alpha) + value alpha`` over a batch (B, C, h, w); alpha = 0 leaves x exactly."""
    alpha = alpha.to(x.dtype)
    return torch.where(alpha > 0, x * (1.0 - alpha) + value.to(x.dtype) * alpha, x)


def _as_map(output: torch.Tensor, shape: tuple[int, int, int] | None) -> torch.Tensor:
    # A linear layer's flat output (B, C*h*w) is a feature map in disguise: the
    # next op reshapes it, so view it as (B, C, h, w) to edit it like one.
    if output.dim() == 2 and shape is not None:
        return output.view(output.shape[0], *shape)
    return output


@contextlib.contextmanager
def edit_layers(
    model: torch.nn.Module,
    edits: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    shapes: Mapping[str, tuple[int, int, int]] | None = None,
) -> Iterator[None]:
    """While inside, forward hooks apply ``edits`` (layer name → (alpha, value)) to ``model``.

    ``shapes`` gives the (C, h, w) of layers whose output is flat.
    """
    shapes = shapes or {}
    handles = []

    def make_hook(alpha: torch.Tensor, value: torch.Tensor, shape):
        def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
            edited = apply_edit(_as_map(output, shape), alpha.to(output.device), value.to(output.device))
            return edited.reshape(output.shape)

        return hook

    try:
        for name, (alpha, value) in edits.items():
            hook = make_hook(alpha, value, shapes.get(name))
            handles.append(model.get_submodule(name).register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def capture_layers(
    model: torch.nn.Module,
    names: Sequence[str],
    shapes: Mapping[str, tuple[int, int, int]] | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """While inside, each forward stores the named layers' outputs (detached) in the yielded dict.

    Flat outputs of layers listed in ``shapes`` are stored as (B, C, h, w) maps.
    """
    shapes = shapes or {}
    captured: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(name: str):
        def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
            captured[name] = _as_map(output.detach(), shapes.get(name)).clone()

        return hook

    try:
        for name in names:
            handles.append(model.get_submodule(name).register_forward_hook(make_hook(name)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def unit_levels(activations: torch.Tensor, quantile: float = DRAW_QUANTILE) -> torch.Tensor:
    """Each unit's ``quantile`` activation over samples and positions: (N, C, h, w) → (C,)."""
    per_unit = activations.transpose(0, 1).reshape(activations.shape[1], -1).float()
    if per_unit.shape[1] > 1_000_000:  # torch.quantile refuses huge inputs; a stride keeps the spread
        per_unit = per_unit[:, :: per_unit.shape[1] // 1_000_000 + 1]
    return torch.quantile(per_unit, quantile, dim=1)


def rank_units(unit_activity: torch.Tensor, concept_score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Units ordered by how well their activity predicts a concept: ``(order, correlation)``.

    ``unit_activity`` (N, C) is each unit's mean activation per sample,
    ``concept_score`` (N,) how strongly each sample shows the concept (e.g. a
    classifier's probability). The score is Pearson correlation; dead units
    (no variance) score 0. ``order`` lists units best first.
    """
    a = unit_activity.double() - unit_activity.double().mean(0)
    s = concept_score.double() - concept_score.double().mean()
    denom = a.norm(dim=0) * s.norm()
    corr = torch.where(denom > 1e-12, (a * s[:, None]).sum(0) / denom.clamp_min(1e-12), torch.zeros_like(denom))
    order = torch.argsort(corr, descending=True, stable=True)
    return order, corr.float()
