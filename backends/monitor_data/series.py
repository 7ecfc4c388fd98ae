"""Metric series in growing arrays, and the smoothing the monitor's slider applies.

A :class:`Series` is three growing numpy arrays (step, write time, value)
whose capacity doubles when full, so appending is amortised O(1) and a plot
can take a view of the data without copying. The smoothing is the debiased
exponential moving average, computed incrementally as points arrive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------- growing arrays


class GrowingArray:
    """A 1-D float64 array that doubles its capacity when full.

    ``view`` is the filled part, a view into the storage (no copy). A view
    handed out earlier stays valid: growing allocates new storage and leaves
    the old one to whoever still holds it.
    """

    __slots__ = ("_data", "_size")

    def __init__(self, capacity: int = 256) -> None:
        self._data = np.empty(max(1, int(capacity)), dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return int(self._data.shape[0])

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._size]

    def extend(self, values: np.ndarray | Sequence[float]) -> None:
        values = np.asarray(values, dtype=np.float64)
        end = self._size + values.shape[0]
        if end > self._data.shape[0]:
            capacity = self._data.shape[0]
            while capacity < end:
                capacity *= 2
            grown = np.empty(capacity, dtype=np.float64)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = values
        self._size = end

    def truncate(self, size: int) -> None:
        self._size = max(0, min(int(size), self._size))


# ---------------------------------------------------------------- smoothing


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing) of ``values``.

    ``weight`` in [0, 1): 0 returns the values unchanged; 0.6 is TensorBoard's
    default. Point ``n`` is ``sum_k w^(n-k) (1-w) x_k / (1 - w^(n+1))``, so the
    first points are not pulled towards zero.
    """
    smoother = EmaState(weight)
    return smoother.extend(np.asarray(values, dtype=np.float64))


class EmaState:
    """Incremental debiased EMA: ``extend`` smooths new points continuing from the old ones.

    Computed in blocks with numpy rather than a Python loop over points: within
    a block, ``y_j = w^j (y_0 + (1-w) * cumsum(w^-i x_i))``. The block length
    keeps ``w^-block`` far from float64 overflow for any weight.
    """

    __slots__ = ("weight", "_acc", "_count", "_block", "_up", "_down", "_low", "_high")

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
        self.weight = float(weight)
        self._acc = 0.0  # the biased running average
        self._count = 0
        self._low, self._high = math.inf, -math.inf  # range of the values seen so far
        if self.weight > 0.0:
            # w^-block must stay below ~1e280: block * log10(1/w) < 280.
            self._block = int(max(1, min(4096, 280.0 / -math.log10(self.weight))))
        else:
            self._block = 4096
        # Powers w^-(i+1) and w^(i+1) for one block, computed once.
        exponents = np.arange(1, self._block + 1, dtype=np.float64)
        self._up = self.weight**-exponents if self.weight > 0.0 else exponents
        self._down = self.weight**exponents

    def extend(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.weight == 0.0:
            self._count += values.shape[0]
            if values.shape[0]:
                self._acc = float(values[-1])
            return values.copy()
        w = self.weight
        out = np.empty_like(values)
        for start in range(0, values.shape[0], self._block):
            chunk = values[start : start + self._block]
            size = chunk.shape[0]
            biased = self._down[:size] * (self._acc + (1.0 - w) * np.cumsum(chunk * self._up[:size]))
            # Debiasing: 1 - w^count, where count includes this point.
            out[start : start + size] = biased / (1.0 - w**self._count * self._down[:size])
            self._acc = float(biased[-1])
            self._count += chunk.shape[0]
        # The average of the values so far lies within their range; clipping to it removes
        # rounding noise (a constant series stays exactly constant, not 15.624999...).
        if values.shape[0]:
            low = np.minimum(np.minimum.accumulate(values), self._low)
            high = np.maximum(np.maximum.accumulate(values), self._high)
            np.clip(out, low, high, out=out)
            self._low, self._high = float(low[-1]), float(high[-1])
        return out


# ---------------------------------------------------------------- series


@dataclass(frozen=True)
class DetailSource:
    """Where a series reduced to an overview has its every point: a rank's metric columns."""

    run_path: Path
    rank: int
    kind: str
    name: str


class Series:
    """One curve's data: step, write time and value of every point, in arrival order.

    Non-finite values (a diverged loss) are not stored, so plots never draw a
    NaN; the first step where one appeared is kept to be reported. A step
    lower than the last one means the run was resumed from an earlier
    checkpoint: the points after it are dropped, so the x data stays sorted.
    ``version`` changes whenever the data does, so a view redraws only then.
    """

    def __init__(self) -> None:
        self.step = GrowingArray()
        self.time = GrowingArray()
        self.value = GrowingArray()
        self.version = 0
        self.first_nonfinite_step: int | None = None
        # Set when the history is a min/max overview: a zoomed-in plot reads the detail here.
        self.detail_source: DetailSource | None = None
        self._smooth: EmaState | None = None
        self._smoothed = GrowingArray()

    def __len__(self) -> int:
        return len(self.value)

    def extend(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        steps = np.asarray(steps, dtype=np.float64)
        times = np.asarray(times, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            if self.first_nonfinite_step is None:
                self.first_nonfinite_step = int(steps[~finite][0])
            steps, times, values = steps[finite], times[finite], values[finite]
        if steps.shape[0] == 0:
            return
        # Split the batch where the step goes back; each piece resumes the series.
        backs = np.flatnonzero(np.diff(steps) < 0) + 1
        bounds = [0, *backs.tolist(), steps.shape[0]]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
            self._append(steps[lo:hi], times[lo:hi], values[lo:hi])
        self.version += 1

    def _append(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        n = len(self.step)
        if n and steps[0] < self.step.view[n - 1]:
            keep = int(np.searchsorted(self.step.view, steps[0], side="left"))
            for array in (self.step, self.time, self.value):
                array.truncate(keep)
            self._smooth = None  # recomputed from the kept points when next asked
        self.step.extend(steps)
        self.time.extend(times)
        self.value.extend(values)

    def smoothed(self, weight: float) -> np.ndarray:
        """The EMA of the values, extended incrementally since the previous call."""
        if self._smooth is None or self._smooth.weight != weight:
            self._smooth = EmaState(weight)
            self._smoothed = GrowingArray(max(256, len(self.value)))
        done = len(self._smoothed)
        if done < len(self.value):
            self._smoothed.extend(self._smooth.extend(self.value.view[done:]))
        return self._smoothed.view

    def value_at(self, x: float, by_time: bool = False, origin: float = 0.0) -> tuple[float, float]:
        """The point nearest to ``x`` (a step, or seconds since ``origin``): ``(x, value)``."""
        xs = (self.time.view - origin) if by_time else self.step.view
        if xs.shape[0] == 0:
            return math.nan, math.nan
        i = int(np.clip(np.searchsorted(xs, x), 1, xs.shape[0] - 1)) if xs.shape[0] > 1 else 0
        if i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
            i -= 1
        return float(xs[i]), float(self.value.view[i])
