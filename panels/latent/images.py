"""Numpy arrays as Qt images for the latent studio: pictures, translucent masks, outlines, icons."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap


def qimage_from_array(image: np.ndarray) -> QImage:
    """A copy of a uint8 (H, W, 1|3) array as a QImage."""
    array = np.ascontiguousarray(image)
    h, w = array.shape[:2]
    if array.ndim == 2 or array.shape[2] == 1:
        grey = np.ascontiguousarray(array.reshape(h, w))
        return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    rgb = np.ascontiguousarray(array[:, :, :3])
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def mask_image(mask: np.ndarray, colour: QColor) -> QImage:
    """A coloured, translucent ARGB image of a mask in [0, 1]."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = colour.red(), colour.green(), colour.blue()
    rgba[..., 3] = (np.clip(mask, 0, 1) * colour.alpha()).astype(np.uint8)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def mask_edges(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Unit segments (x1, y1, x2, y2) in pixel corners between masked and unmasked pixels."""
    padded = np.pad(mask, 1)
    edges = []
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # between column x-1 and x, per row
    for y, x in zip(*np.nonzero(vertical), strict=True):
        edges.append((int(x), int(y), int(x), int(y) + 1))
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # between row y-1 and y, per column
    for y, x in zip(*np.nonzero(horizontal), strict=True):
        edges.append((int(x), int(y), int(x) + 1, int(y)))
    return edges


def mask_icon(mask: np.ndarray, side: int) -> QIcon:
    """A black-and-white ``side``-pixel icon of a boolean mask (a stroke in a history list)."""
    grey = (np.asarray(mask, np.float32) * 255).astype(np.uint8)
    return QIcon(QPixmap.fromImage(qimage_from_array(grey[:, :, None])).scaled(side, side))
