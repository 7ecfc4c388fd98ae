"""Files in and out of the latent studio: PNG grids, GIF/MP4 strips, latents, real images.

* images leave as PNG (one image or a grid) and interpolations as GIF
  (Pillow) or MP4 (only when ``imageio`` with ``imageio-ffmpeg`` is
  installed; nothing else on the system is needed);
* latents are saved with their seeds as ``.npz`` (no pickle) and refused on
  load when their size does not match the model;
* real images for a VAE to encode are read with Pillow, centre-cropped to a
  square, resized and converted to the model's channels; files that are not
  images, or absurdly small or large ones, are refused with a message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

MIN_IMAGE_SIDE = 8
MAX_IMAGE_SIDE = 10_000
MAX_ASPECT = 4.0


class ExportError(ValueError):
    """A file that cannot be written or read; the message names it and the fix."""


# ---------------------------------------------------------------- images out


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile uint8 images (n, H, W, C) into one (rows·H, cols·W, C) image with ``pad`` px gaps."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ExportError(f"need a non-empty batch of images (n, H, W, C), got shape {images.shape}")
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, c), dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = image
    return out


def _pil(image: np.ndarray):
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return Image.fromarray(image)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write one uint8 image (H, W, C) as PNG."""
    path = Path(path)
    try:
        _pil(image).save(path, format="PNG")
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc}); pick a folder you can write to") from exc
    return path


def save_gif(
    path: str | Path, frames: Sequence[np.ndarray], fps: float = 12.0, loop: bool = True,
    scale: int = 1,
) -> int:
    """Write frames (each uint8 (H, W, C)) as an animated GIF; returns the frame count written.

    Pillow merges consecutive identical frames into one longer frame, so a
    path that stands still for a while writes fewer frames than it was given.
    """
    if len(frames) < 1:
        raise ExportError("a GIF needs at least one frame")
    path = Path(path)
    images = [_pil(np.asarray(f).repeat(scale, 0).repeat(scale, 1) if scale > 1 else f) for f in frames]
    duration = max(20, int(round(1000.0 / fps)))
    try:
        images[0].save(
            path, format="GIF", save_all=True, append_images=images[1:], duration=duration,
            loop=0 if loop else 1, disposal=1,
        )
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc}); pick a folder you can write to") from exc
    return gif_frame_count(path)


def gif_frame_count(path: str | Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return int(getattr(image, "n_frames", 1))


def mp4_available() -> bool:
    """Whether ``imageio`` can write MP4 here (it needs the ``imageio-ffmpeg`` package)."""
    try:
        import imageio.v3  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def save_mp4(path: str | Path, frames: Sequence[np.ndarray], fps: float = 24.0, scale: int = 4) -> int:
    """Write frames as an H.264 MP4 through imageio-ffmpeg; returns the frame count."""
    if not mp4_available():
        raise ExportError("MP4 export needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg; "
                          "or export a GIF")
    import imageio.v3 as iio

    stack = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    if stack.shape[-1] == 1:
        stack = stack.repeat(3, axis=-1)
    # H.264 wants even sides; upscaling also keeps tiny images watchable.
    stack = stack.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = stack.shape[1:3]
    stack = stack[:, : h - h % 2, : w - w % 2]
    try:
        iio.imwrite(Path(path), stack, fps=fps, codec="libx264")
    except Exception as exc:
        raise ExportError(f"{path}: MP4 export failed ({exc}); export a GIF instead") from exc
    return len(stack)


# ---------------------------------------------------------------- latents


def save_latents(
    path: str | Path,
    latents: torch.Tensor | np.ndarray,
    seeds: Sequence[int | None] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Save latents (n, d) with their seeds (-1 where a latent has none, e.g. an edit) to ``.npz``."""
    import torch

    z = np.asarray(latents.detach().cpu() if isinstance(latents, torch.Tensor) else latents, dtype=np.float32)
    if z.ndim == 1:
        z = z[None]
    seeds = list(seeds) if seeds is not None else [None] * len(z)
    if len(seeds) != len(z):
        raise ExportError(f"{len(z)} latents but {len(seeds)} seeds")
    # Any: numpy's stubs type ``**arrays`` together with savez's ``allow_pickle: bool``.
    arrays: dict[str, Any] = {
        "latents": z,
        "seeds": np.array([-1 if s is None else int(s) for s in seeds], dtype=np.int64),
    }
    for key, value in (meta or {}).items():
        arrays[f"meta_{key}"] = np.array(str(value))
    path = Path(path)
    try:
        np.savez(path, **arrays)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc}); pick a folder you can write to") from exc
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load_latents(path: str | Path, latent_dim: int | None = None) -> tuple[torch.Tensor, list[int | None]]:
    """Latents (n, d) and seeds from a ``.npz`` written by :func:`save_latents` (or any with ``latents``)."""
    import torch

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "latents" not in data:
                raise ExportError(f"{path}: no 'latents' array; save latents from the studio first")
            z = np.asarray(data["latents"], dtype=np.float32)
            seeds_raw = data["seeds"] if "seeds" in data else np.full(len(z), -1)
    except ExportError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ExportError(f"{path}: not a latents file ({exc}); pick a .npz saved by the studio") from exc
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or len(z) == 0:
        raise ExportError(f"{path}: latents must be a (n, d) array, got shape {z.shape}")
    if latent_dim is not None and z.shape[1] != latent_dim:
        raise ExportError(
            f"{path}: latents have size {z.shape[1]} but this model takes {latent_dim}; "
            f"open the model they were saved from"
        )
    if not np.isfinite(z).all():
        raise ExportError(f"{path}: latents contain NaN or infinity")
    seeds = [None if int(s) < 0 else int(s) for s in np.asarray(seeds_raw).reshape(-1)[: len(z)]]
    seeds += [None] * (len(z) - len(seeds))
    return torch.from_numpy(z), seeds


# ---------------------------------------------------------------- images in


def load_image(path: str | Path, size: int, channels: int) -> torch.Tensor:
    """An image file as a (1, channels, size, size) tensor in [0, 1], ready for a VAE encoder.

    The image is centre-cropped to a square and resized with Lanczos. Fashion-MNIST
    is white-on-black, so photos of dark objects on light ground encode poorly;
    the caller may invert.
    """
    import torch
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except FileNotFoundError as exc:
        raise ExportError(f"{path}: no such file") from exc
    except Image.DecompressionBombError as exc:
        raise ExportError(f"{path}: image is too large; use one under {MAX_IMAGE_SIDE} px a side") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ExportError(f"{path}: not a readable image; use a PNG or JPG file") from exc
    w, h = image.size
    if min(w, h) < MIN_IMAGE_SIDE:
        raise ExportError(f"{path}: image is {w}x{h} px; it needs at least {MIN_IMAGE_SIDE} px a side")
    if max(w, h) > MAX_IMAGE_SIDE:
        raise ExportError(f"{path}: image is {w}x{h} px; use one under {MAX_IMAGE_SIDE} px a side")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ExportError(
            f"{path}: image is {w}x{h} px, too far from square to crop; crop it to the object first"
        )
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1)[None].contiguous()
