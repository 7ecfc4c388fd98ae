"""Real images for an encoder: checked files, folders of them, and directions found from them.

``load_photo`` reads one image file for a VAE (workbench or ``AutoencoderKL``):
it refuses a file that is not an image and an image whose mode cannot be
turned into the model's channels without inventing values (16-bit, float,
CMYK, ...), each with one sentence that says what to do, then centre-crops
and resizes as :func:`backends.latent.export.load_image` does.

``encode_folder`` encodes every image of a folder; ``folder_direction`` is the
difference of two folders' mean latents (a class direction from examples);
``principal_directions`` are the principal axes of a set of encoded images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from backends.latent import directions
from backends.latent.export import ExportError, load_image
from backends.latent.model import LatentModel
from backends.progress import ProgressCallback, report

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Modes that become grey or RGB without loss of meaning: 8-bit grey, palette, RGB, with alpha.
ACCEPTED_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "La")


def check_photo(path: str | Path) -> str:
    """The image's mode if the file is an image the studio can encode, else :class:`ExportError`."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    try:
        with Image.open(path) as opened:
            mode = opened.mode
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ExportError(f"{path.name} is not a readable image; pick a PNG or JPG file") from exc
    if mode not in ACCEPTED_MODES:
        what = {
            "CMYK": "a CMYK (print) image",
            "YCbCr": "a YCbCr image",
            "LAB": "a Lab image",
            "HSV": "an HSV image",
            "F": "a floating-point image",
        }.get(mode, f"a {mode} image (16 or 32 bits per pixel)")
        raise ExportError(
            f"{path.name} is {what}; the encoder takes 8-bit RGB or grey images: "
            "save it as an 8-bit RGB PNG or JPG"
        )
    return mode


def load_photo(path: str | Path, size: int, channels: int) -> torch.Tensor:
    """A checked image file as (1, channels, size, size) in [0, 1], centre-cropped and resized."""
    check_photo(path)
    return load_image(path, size, channels)


def image_files(folder: str | Path) -> list[Path]:
    """Image files of a folder (not recursive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ExportError(f"{folder} has no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


@torch.no_grad()
def encode_folder(
    model: LatentModel, folder: str | Path, limit: int = 200, progress: ProgressCallback | None = None
) -> torch.Tensor:
    """Latents (n, d) of up to ``limit`` images of ``folder``, encoded one by one."""
    files = image_files(folder)[:limit]
    rows = []
    for n, path in enumerate(files):
        rows.append(model.encode(load_photo(path, model.image_size, model.channels))[0])
        report(progress, (n + 1) / len(files))
    return torch.stack(rows)


def folder_direction(
    model: LatentModel, source: str | Path, target: str | Path, progress: ProgressCallback | None = None
) -> directions.Direction:
    """From the mean latent of ``source`` images towards that of ``target`` images, unit length.

    ``sigma`` is the spread of all the encoded images along it; ``score`` the
    distance between the two means in those σ.
    """
    a = encode_folder(model, source)
    b = encode_folder(model, target)
    delta = b.mean(0) - a.mean(0)
    norm = float(delta.norm())
    if norm == 0.0:
        raise ExportError("the two folders encode to the same mean; pick folders that differ")
    unit = delta / norm
    sigma = float(torch.cat([a, b]).matmul(unit).std()) if len(a) + len(b) > 2 else norm
    label = f"{Path(source).name} → {Path(target).name}"
    return directions.Direction(label, unit, sigma or norm, norm / (sigma or norm))


def principal_directions(latents: torch.Tensor, components: int = 8) -> list[directions.Direction]:
    """Principal axes of encoded images (n, d), largest variance first (score: variance share)."""
    z = latents.double()
    if z.shape[0] < 2:
        raise ExportError("principal directions need at least two encoded images")
    centred = z - z.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = s**2
    ratio = (variance / variance.sum().clamp_min(1e-30)).tolist()
    sigma = (s / np.sqrt(max(1, z.shape[0] - 1))).tolist()
    k = min(components, vh.shape[0], z.shape[0] - 1)
    return [
        directions.Direction(f"PC{i + 1}", vh[i].float(), float(sigma[i]), float(ratio[i]))
        for i in range(k)
    ]
