"""One render of the studio: latents plus strokes in, 8-bit images and the pooled masks out.

The panel and the benchmark call :func:`render` on a worker with plain values;
the result carries the request id it answers so a view can drop stale
results. Rendering is deterministic (eval mode, no sampling inside), so the
same latents and the same strokes give the same bytes: that is what makes
undo exact.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from backends.latent import brushes
from backends.latent.model import LatentModel


@dataclass
class RenderResult:
    """Images (n, H, W, C) uint8 and, per edited layer, the composite mask on its grid."""

    request_id: int
    images: np.ndarray
    seconds: float
    latents: torch.Tensor
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> (h, w) alpha in [0, 1]
    tag: str = ""


@dataclass
class CompareRender:
    """The same latents and edits through two models; ``skipped`` names the strokes the
    compare model could not take (layer missing, or too few units)."""

    main: RenderResult
    compare: RenderResult
    skipped: list[str]

    @property
    def request_id(self) -> int:
        return self.main.request_id


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (n, C, H, W) in [0, 1] as uint8 (n, H, W, C)."""
    array = (images.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)
    return array.permute(0, 2, 3, 1).contiguous().numpy()


# A render of a few small images is far too little work to share between
# OpenMP threads; on a busy machine the threads' spin-waits make it 10-20x
# slower (37 ms instead of 2 ms for the demo VAE on 2 loaded cores).
SINGLE_THREAD_BELOW = 8


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads, then put the previous count back.

    NOTE: torch's thread count is process-wide; the window is one render long.
    """
    before = torch.get_num_threads()
    if n >= before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def render(
    model: LatentModel,
    latents: torch.Tensor,
    strokes: Sequence[brushes.Stroke] = (),
    levels: Mapping[str, torch.Tensor] | None = None,
    request_id: int = 0,
    tag: str = "",
) -> RenderResult:
    """Decode ``latents`` with the composite of ``strokes`` applied to every image."""
    start = time.perf_counter()
    latents = model.check_latents(latents)
    painted = [s for s in strokes if s.painted]
    edits = brushes.composite(painted, model.brush_layers, levels) if painted else {}
    with _threads(1 if len(latents) < SINGLE_THREAD_BELOW else torch.get_num_threads()):
        images = model.decode(latents, edits)
    masks = {layer: alpha.amax(0).numpy() for layer, (alpha, _) in edits.items()}
    return RenderResult(request_id, to_uint8(images), time.perf_counter() - start, latents, masks, tag)


def render_compare(
    model: LatentModel,
    other: LatentModel,
    latents: torch.Tensor,
    strokes: Sequence[brushes.Stroke] = (),
    levels: Mapping[str, torch.Tensor] | None = None,
    other_levels: Mapping[str, torch.Tensor] | None = None,
    request_id: int = 0,
) -> CompareRender:
    """The same latents and edits through two models; strokes the other model cannot take are
    skipped and named in the result (layer missing, or too few units)."""
    first = render(model, latents, strokes, levels, request_id, "main")
    usable: list[brushes.Stroke] = []
    skipped: list[str] = []
    for stroke in strokes:
        shape = other.brush_layers.get(stroke.layer)
        if shape is None or max(stroke.units) >= shape[0]:
            skipped.append(stroke.label or stroke.layer)
        else:
            usable.append(stroke)
    second = render(other, latents, usable, other_levels, request_id, "compare")
    return CompareRender(first, second, skipped)
