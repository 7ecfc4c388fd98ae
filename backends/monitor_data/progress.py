"""How far a run is: steps done of the total and the time left at the recent rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------- progress


@dataclass(frozen=True)
class RunProgress:
    """How far a run is: steps done of the total, and the time left at the recent rate."""

    step: int
    total: int
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.step / self.total))


def estimate_progress(
    steps: np.ndarray, times: np.ndarray, total: int, window: int = 50
) -> RunProgress | None:
    """Progress from a series' steps and write times; the rate is over the last ``window`` points."""
    if steps.shape[0] == 0 or total <= 0:
        return None
    step = int(steps[-1])
    eta = None
    first = max(0, steps.shape[0] - window)
    dsteps = float(steps[-1] - steps[first])
    dt = float(times[-1] - times[first])
    if dsteps > 0 and dt > 0:
        eta = max(0.0, (total - step) * dt / dsteps)
    return RunProgress(step=step, total=int(total), eta_s=eta)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
