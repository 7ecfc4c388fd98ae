"""Image previews of a training run: a batch of images tiled into one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def save_image_grid(images: torch.Tensor, path: Path, columns: int = 8) -> Path:
    """Tile images (N, C, H, W) in [0, 1] into one PNG, ``columns`` per row, 2-pixel gaps."""
    from PIL import Image

    images = images.clamp(0, 1)
    n, c, h, w = images.shape
    rows = (n + columns - 1) // columns
    pad = 2
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i].permute(1, 2, 0).numpy()
    pixels = (grid * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return path
