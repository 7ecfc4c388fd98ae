"""Brush strokes and their history: plain data, no torch, so a panel can hold them cheaply.

A :class:`Stroke` records one painted edit (layer, units, draw or remove, the
mask at image resolution); a :class:`StrokeStack` is the history with undo,
redo, delete-one and reset. Turning strokes into feature-map edits is
:mod:`backends.latent.brushes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MODES = ("draw", "remove")
POOLINGS = ("max", "mean")
# Units per stroke for each intensity, GANPaint's low / medium / high.
INTENSITY_UNITS = {"low": 4, "medium": 10, "high": 15}
DRAW_QUANTILE = 0.99


class BrushError(ValueError):
    """A stroke that cannot be applied; the message says what to change."""


@dataclass(frozen=True, eq=False)
class Stroke:
    """One painted edit. ``mask`` is a boolean (H, W) array at image resolution.

    ``value`` overrides the mode's value for every unit when given (a
    hand-set activation); otherwise *draw* uses the layer's per-unit levels
    and *remove* uses 0.
    """

    layer: str
    units: tuple[int, ...]
    mode: str
    mask: np.ndarray
    label: str = ""
    pooling: str = "max"
    value: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BrushError(f"unknown brush mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.pooling not in POOLINGS:
            raise BrushError(f"unknown mask pooling {self.pooling!r}; use max or mean")
        if not self.units:
            raise BrushError("a stroke needs at least one unit; pick a concept or type unit numbers")
        if np.asarray(self.mask).ndim != 2:
            raise BrushError(f"a brush mask must be 2-D (H, W), got shape {np.shape(self.mask)}")

    @property
    def painted(self) -> bool:
        return bool(np.asarray(self.mask).any())


def units_for_intensity(order: Sequence[int], intensity: str | int) -> tuple[int, ...]:
    """The top units of a ranking for an intensity name (low/medium/high) or a count."""
    count = INTENSITY_UNITS.get(intensity) if isinstance(intensity, str) else int(intensity)
    if count is None:
        raise BrushError(
            f"unknown intensity {intensity!r}; use {', '.join(INTENSITY_UNITS)} or a number of units"
        )
    return tuple(int(u) for u in list(order)[: max(1, count)])


@dataclass
class StrokeStack:
    """The stroke history with undo/redo, delete-one and reset.

    Every change makes a new immutable state (a tuple of strokes); undo and
    redo move between states. Deleting one stroke or resetting is itself
    undoable. The current strokes are re-rendered from scratch each time.
    """

    _states: list[tuple[Stroke, ...]] = field(default_factory=lambda: [()])
    _index: int = 0

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return self._states[self._index]

    def __len__(self) -> int:
        return len(self.strokes)

    def _commit(self, state: tuple[Stroke, ...]) -> None:
        del self._states[self._index + 1 :]  # a new change forgets the redo branch
        self._states.append(state)
        self._index += 1

    def push(self, stroke: Stroke) -> None:
        self._commit(self.strokes + (stroke,))

    def delete(self, index: int) -> Stroke:
        strokes = self.strokes
        if not 0 <= index < len(strokes):
            raise BrushError(f"no stroke {index + 1}; the history has {len(strokes)}")
        self._commit(strokes[:index] + strokes[index + 1 :])
        return strokes[index]

    def reset(self) -> None:
        if self.strokes:
            self._commit(())

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def undo(self) -> bool:
        if not self.can_undo():
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo():
            return False
        self._index += 1
        return True
