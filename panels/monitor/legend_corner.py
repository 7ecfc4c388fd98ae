"""Where a live plot's legend goes: the corner of the view that covers the least new data.

A live curve grows at its right end, and the newest points are the ones a user
watches. :func:`choose_corner` scores each corner of the view box by how many of
the newest points (the last tenth of each curve) a legend of a given size would
cover there, then by how many points of any age, and keeps the current corner
unless it covers new points and another covers fewer. Plain numpy, no Qt: the
plot maps its data to view-box pixels and calls this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEWEST_SHARE = 0.1  # the last tenth of each curve is "the newest data"
MARGIN = 10.0  # pixels between the legend and the view box's edge
PAD = 4.0  # pixels around the legend that should be clear as well


@dataclass(frozen=True)
class Corner:
    """A corner of the view box: which corner of the legend sits on it, and the offset."""

    name: str
    anchor: tuple[float, float]  # same for the legend and the view box
    offset: tuple[float, float]


# Preference order when corners tie: top right (pyqtgraph's usual place), then the others.
CORNERS = (
    Corner("top right", (1.0, 0.0), (-MARGIN, MARGIN)),
    Corner("top left", (0.0, 0.0), (MARGIN, MARGIN)),
    Corner("bottom right", (1.0, 1.0), (-MARGIN, -MARGIN)),
    Corner("bottom left", (0.0, 1.0), (MARGIN, -MARGIN)),
)


def legend_rect(
    corner: Corner, view: tuple[float, float], legend: tuple[float, float]
) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a legend of size ``legend`` at ``corner`` of ``view``."""
    (vw, vh), (lw, lh) = view, legend
    ax, ay = corner.anchor
    left = ax * vw + corner.offset[0] - ax * lw
    top = ay * vh + corner.offset[1] - ay * lh
    return left, top, left + lw, top + lh


def _inside(points: np.ndarray, rect: tuple[float, float, float, float]) -> int:
    if not len(points):
        return 0
    left, top, right, bottom = rect
    x, y = points[:, 0], points[:, 1]
    hit = (x >= left - PAD) & (x <= right + PAD) & (y >= top - PAD) & (y <= bottom + PAD)
    return int(np.count_nonzero(hit))


def newest(points: np.ndarray) -> np.ndarray:
    """The last tenth of one curve's points (at least one point)."""
    n = len(points)
    return points[n - max(1, int(np.ceil(n * NEWEST_SHARE))):] if n else points


def choose_corner(
    curves: list[np.ndarray],
    view: tuple[float, float],
    legend: tuple[float, float],
    current: Corner = CORNERS[0],
) -> Corner:
    """The corner for a legend of size ``legend`` over ``curves`` (each an [n, 2] pixel array).

    Pixel y grows downwards, as in Qt.
    """
    recent = np.concatenate([newest(c) for c in curves]) if curves else np.empty((0, 2))
    # Older points only break ties; a stride keeps a million-point curve cheap.
    older = (
        np.concatenate([c[:: max(1, len(c) // 2000)] for c in curves]) if curves
        else np.empty((0, 2))
    )

    def cost(corner: Corner) -> tuple[int, int]:
        rect = legend_rect(corner, view, legend)
        return _inside(recent, rect), _inside(older, rect)

    if cost(current)[0] == 0:
        return current
    return min(CORNERS, key=cost)
