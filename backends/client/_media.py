"""Samples a script logs: an image grid as a PNG, a text sample as a UTF-8 file.

Both land in the run's ``samples/`` folder under the trainer's names
(``step_<step>.png`` / ``.txt``), written through a temporary file and a
rename so a viewer never reads half a file. Images may be a numpy array or a
torch tensor, one image or a batch, channels first or last, floats in [0, 1]
or uint8.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def to_batch(images: Any) -> np.ndarray:
    """``images`` as uint8 (N, H, W, C) with C in {1, 3, 4}."""
    if hasattr(images, "detach"):  # a torch tensor, without importing torch here
        images = images.detach().float().cpu().numpy()
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None, :, :, None]
    elif array.ndim == 3:  # one image, channels first or last (told apart below)
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"images must be (H, W), (H, W, C), (C, H, W) or a batch; got {array.shape}")
    if array.shape[1] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(0, 2, 3, 1)  # channels first -> last
    if array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images need 1, 3 or 4 channels; got shape {array.shape}")
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def grid(images: Any, columns: int = 8, pad: int = 2) -> np.ndarray:
    """Tile a batch into one uint8 image (H, W, C), ``columns`` per row, white gaps."""
    batch = to_batch(images)
    n, h, w, c = batch.shape
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = batch[i]
    return out


def save_png(pixels: np.ndarray, path: Path) -> Path:
    from PIL import Image

    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def save_text(text: str, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def sample_path(folder: Path, step: int, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"step_{int(step):07d}{suffix}"
