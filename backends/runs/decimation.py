"""Reducing a series for a plot: the lowest and highest point of each bucket, in order.

A plot of the reduced series shows every spike the full one has (as
pyqtgraph's "peak" downsampling would), from about two points per bucket.
"""

from __future__ import annotations

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def extreme_pairs(values: np.ndarray) -> np.ndarray:
    """For each row of ``values``, the positions of its lowest and highest value, in order; a
    constant row gives its first and last position (never one point twice: a repeated step
    would read as a resume and break the curve)."""
    low, high = values.argmin(axis=1), values.argmax(axis=1)
    flat = low == high
    first, last = np.minimum(low, high), np.maximum(low, high)
    first[flat], last[flat] = 0, values.shape[1] - 1
    return np.stack([first, last], axis=1)


def without_repeats(points: np.ndarray) -> np.ndarray:
    """Drop a point that repeats the one before it exactly (where overview parts meet)."""
    if points.shape[0] < 2:
        return points
    keep = np.r_[True, np.any(np.diff(points, axis=0) != 0, axis=1)]
    return points[keep]


def decimate(points: np.ndarray, buckets: int) -> Arrays:
    """Min and max (by value) of each of ``buckets`` runs of points, in order, plus the first and
    the last point."""
    n = points.shape[0]
    if n <= 2 * buckets + 1:
        return points[:, 0].copy(), points[:, 1].copy(), points[:, 2].copy()
    size = -(-n // buckets)
    full = n // size
    base = (np.arange(full) * size)[:, None]
    pairs = (base + extreme_pairs(points[: full * size, 2].reshape(full, size))).ravel()
    chosen = np.unique(np.concatenate([[0], pairs, np.arange(full * size, n), [n - 1]]))
    picked = points[chosen]
    return picked[:, 0].copy(), picked[:, 1].copy(), picked[:, 2].copy()
