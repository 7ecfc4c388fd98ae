"""Image datasets that work offline: Fashion-MNIST from IDX files, a shipped subset, digits.

Three named sources, all greyscale, returned as an :class:`ImageSet` of
``uint8`` pixels (N, H, W) and integer labels:

- ``"fashion-mnist"``: the four IDX files (gzipped or raw) in any folder;
  by default ``/usr/share/datasets/fashion-mnist``, where the Debian package
  ``dataset-fashion-mnist`` puts them. 60,000 train + 10,000 test, 28x28.
- ``"fashion-mnist-subset"``: 3,000 of those training images (300 per class)
  shipped in ``resources/data/fashion-mnist-subset`` with their MIT licence,
  so demos and tests work on any machine. Train split only.
- ``"digits"``: scikit-learn's bundled 8x8 digits (1,797 images), always there.

``"auto"`` picks the full Fashion-MNIST if it is installed, else the subset.
:class:`ImageTensorDataset` turns a set into float tensors in [0, 1] (VAE) or
[-1, 1] (DCGAN's tanh output).
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from backends.data.errors import DataError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
IMAGE_SOURCES = ("auto", "fashion-mnist", "fashion-mnist-subset", "digits")
SCALES = ("unit", "symmetric")

_HOW_TO_GET = (
    "install the Debian package dataset-fashion-mnist (sudo apt-get install "
    "dataset-fashion-mnist; it puts the files in /usr/share/datasets/fashion-mnist), or copy "
    "the four IDX files from github.com/zalandoresearch/fashion-mnist into a folder and pick "
    "that folder; 'fashion-mnist-subset' (shipped, 3,000 images) and 'digits' (8x8) always work"
)

# IDX type codes (third magic byte) and their big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class _Readable(Protocol):
    def read_bytes(self) -> bytes: ...


@dataclasses.dataclass
class ImageSet:
    """Greyscale images ``(N, H, W)`` uint8 with labels ``(N,)`` int64."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    source: str  # where it was read from, for the run's meta and error messages

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return 1

    def subset(self, indices: np.ndarray | list[int]) -> ImageSet:
        idx = np.asarray(indices, dtype=np.int64)
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def to_dataset(self, scale: str = "unit") -> ImageTensorDataset:
        return ImageTensorDataset(self, scale)


class ImageTensorDataset(Dataset):
    """``dataset[i] -> (image (1, H, W) float32, label int64)``; ``batch(idx)`` for many at once.

    ``scale="unit"`` gives pixels in [0, 1] (the VAE's range), ``"symmetric"``
    in [-1, 1] (the DCGAN generator's tanh range).
    """

    def __init__(self, images: ImageSet, scale: str = "unit") -> None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        self.source = images
        self.scale = scale
        # Kept as uint8 (a quarter of the float size); converted per batch.
        self._pixels = torch.from_numpy(np.ascontiguousarray(images.images)).unsqueeze(1)
        self._labels = torch.from_numpy(images.labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self._labels)

    def _convert(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.float() / 255.0
        return x * 2.0 - 1.0 if self.scale == "symmetric" else x

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._convert(self._pixels[index]), self._labels[index]

    def batch(self, indices: torch.Tensor | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels at ``indices``, stacked: ``(B, 1, H, W)``, ``(B,)``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self._convert(self._pixels[idx]), self._labels[idx]


# ---- IDX files ----------------------------------------------------------------------------


def read_idx(path: Path | _Readable) -> np.ndarray:
    """Read an IDX file (gzipped or raw, detected from its first bytes) into a numpy array."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} is a damaged gzip file ({exc}); copy it again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(data[4:header], dtype=">u4"))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{path} is truncated or padded: header says {shape} ({expected} bytes), "
            f"file has {len(data)} bytes"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def write_idx(path: Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzipped when ``compress`` (default: name ends in .gz)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"IDX cannot hold dtype {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = header + np.ascontiguousarray(array).astype(_IDX_DTYPES[codes[dtype]]).tobytes()
    if compress if compress is not None else str(path).endswith(".gz"):
        body = gzip.compress(body, compresslevel=9, mtime=0)  # mtime=0: same bytes every time
    Path(path).write_bytes(body)


def _find_idx(folder: Path | _Readable, split: str, kind: str) -> Path | _Readable | None:
    prefix = "train" if split == "train" else "t10k"
    dim = "idx3" if kind == "images" else "idx1"
    for stem in (f"{prefix}-{kind}-{dim}-ubyte", f"{prefix}-{kind}.{dim}-ubyte"):
        for name in (stem + ".gz", stem):
            candidate = folder / name  # type: ignore[operator]
            if candidate.is_file():
                return candidate
    return None


def _load_idx_pair(folder, split: str, name: str, where: str) -> ImageSet:
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    images_file = _find_idx(folder, split, "images")
    labels_file = _find_idx(folder, split, "labels")
    if images_file is None or labels_file is None:
        prefix = "train" if split == "train" else "t10k"
        raise DataError(
            f"no Fashion-MNIST {split} files in {where} (looked for "
            f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]); {_HOW_TO_GET}"
        )
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_file} should hold uint8 images (N, H, W), has {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{labels_file} has {labels.shape} labels for {len(images)} images in {images_file}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(FASHION_MNIST_CLASSES)):
        raise DataError(f"{labels_file} has labels outside 0..9")
    return ImageSet(images, labels.astype(np.int64), FASHION_MNIST_CLASSES, name, where)


# ---- the named sources ----------------------------------------------------------------------


def load_fashion_mnist(
    folder: str | os.PathLike[str] | None = None, split: str = "train"
) -> ImageSet:
    """Fashion-MNIST's ``split`` ("train" or "test") from a folder of IDX files."""
    path = Path(folder) if folder is not None else FASHION_MNIST_DIR
    if not path.is_dir():
        raise DataError(f"Fashion-MNIST folder {path} does not exist; {_HOW_TO_GET}")
    return _load_idx_pair(path, split, "fashion-mnist", str(path))


def load_fashion_mnist_subset(split: str = "train") -> ImageSet:
    """The 3,000 Fashion-MNIST training images shipped with the workbench."""
    from resources import resource_path

    if split != "train":
        raise DataError(
            "the shipped Fashion-MNIST subset has a train split only; split it with "
            "backends.data.split_indices, or install the full set for 'test'"
        )
    folder = resource_path("data", "fashion-mnist-subset")
    return _load_idx_pair(folder, split, "fashion-mnist-subset", "the shipped subset")


def load_digits_images() -> ImageSet:
    """scikit-learn's 1,797 8x8 digits, rescaled from 0..16 to uint8 0..255."""
    # Read scikit-learn's bundled CSV directly when it is where we expect: importing
    # sklearn (and scipy with it) costs about two seconds, the file a few milliseconds.
    spec = importlib.util.find_spec("sklearn")
    csv = None
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        csv = root / "datasets" / "data" / "digits.csv.gz"
    if csv is not None and csv.is_file():
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels, target = digits.images, digits.target.astype(np.int64)
    images = np.round(pixels * (255.0 / 16.0)).astype(np.uint8)
    names = tuple(str(n) for n in range(10))
    return ImageSet(images, target, names, "digits", "scikit-learn digits (UCI optdigits)")


def fashion_mnist_installed(folder: str | os.PathLike[str] | None = None) -> bool:
    path = Path(folder) if folder is not None else FASHION_MNIST_DIR
    return all(_find_idx(path, "train", kind) is not None for kind in ("images", "labels"))


def load_images(
    name: str = "auto", folder: str | os.PathLike[str] | None = None, split: str = "train"
) -> ImageSet:
    """Load an image source by name (see the module docstring); ``folder`` for fashion-mnist."""
    if name == "auto":
        name = "fashion-mnist" if fashion_mnist_installed(folder) else "fashion-mnist-subset"
    if name == "fashion-mnist":
        return load_fashion_mnist(folder, split)
    if name == "fashion-mnist-subset":
        return load_fashion_mnist_subset(split)
    if name == "digits":
        if split != "train":
            raise DataError(
                "'digits' has one split ('train'); split it with backends.data.split_indices"
            )
        return load_digits_images()
    raise DataError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_SOURCES)}")
