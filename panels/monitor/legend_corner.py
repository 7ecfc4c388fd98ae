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


def _inside(columns: np.ndarray, rect: tuple[float, float, float, float]) -> int:
    """How many of ``columns`` ([n, 3]: x, lowest y, highest y in pixels) meet ``rect``."""
    if not len(columns):
        return 0
    left, top, right, bottom = rect
    x, low, high = columns[:, 0], columns[:, 1], columns[:, 2]
    hit = (x >= left - PAD) & (x <= right + PAD) & (low <= bottom + PAD) & (high >= top - PAD)
    return int(np.count_nonzero(hit))


def points(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Single points in the [n, 3] column form (lowest = highest)."""
    return np.column_stack([px, py, py])


def newest_share(n: int) -> int:
    """How many of a curve's ``n`` points are its newest tenth (at least one)."""
    return max(1, int(np.ceil(n * NEWEST_SHARE))) if n else 0


def choose_corner(
    recent: np.ndarray,
    older: np.ndarray,
    view: tuple[float, float],
    legend: tuple[float, float],
    current: Corner = CORNERS[0],
) -> Corner:
    """The corner for a legend of size ``legend`` in a view of size ``view``.

    ``recent`` holds the newest points of every curve and ``older`` a sample of the
    rest, both as [n, 3] columns of view-box pixels (x, lowest y, highest y; y grows
    downwards, as in Qt). Older points only break ties.
    """

    def cost(corner: Corner) -> tuple[int, int]:
        rect = legend_rect(corner, view, legend)
        return _inside(recent, rect), _inside(older, rect)

    if cost(current)[0] == 0:
        return current
    return min(CORNERS, key=cost)


def column_extremes(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Each pixel column of a curve sorted by x as [x, lowest y, highest y] ([n, 3]).

    A million-point tail covers a few hundred columns; a legend that meets none of
    the columns' spans meets none of the points in them.
    """
    if len(px) < 2 or np.any(np.diff(px) < 0):  # too short, or not sorted by x
        return points(px, py)
    column = np.floor(px)
    starts = np.r_[0, np.flatnonzero(np.diff(column)) + 1]
    low, high = np.minimum.reduceat(py, starts), np.maximum.reduceat(py, starts)
    return np.column_stack([px[starts], low, high])
