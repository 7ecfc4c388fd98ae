"""A tiny random diffusers AutoencoderKL folder and a few real photos, made in a test.

The photos are crops of the two JPEGs scikit-learn ships
(``load_sample_images``), so nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path


def make_vae_folder(folder: Path, seed: int = 0) -> Path:
    """Save a 64 x 64 AutoencoderKL with random weights (~0.66 M parameters) into ``folder``."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    vae.save_pretrained(folder)
    return folder


def write_photos(folder: Path, size: int = 96) -> list[Path]:
    """Four RGB PNG crops of scikit-learn's sample photos (china.jpg, flower.jpg)."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    paths = []
    for n, (image, (top, left)) in enumerate(
        [
            (images[0], (100, 150)),
            (images[1], (120, 200)),
            (images[0], (200, 300)),
            (images[1], (50, 100)),
        ]
    ):
        crop = image[top : top + size * 2, left : left + size * 2]
        path = folder / f"photo{n}.png"
        Image.fromarray(crop).resize((size, size)).save(path)
        paths.append(path)
    return paths
