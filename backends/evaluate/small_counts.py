"""Intervals for rates built on few counts: the Wilson score interval, and when to use it.

A bootstrap interval of a rate whose denominator is small can collapse: a group
with five positives, all predicted positive, resamples to TPR 1 every time and the
percentile interval is ``[1, 1]``, the opposite of honest uncertainty. For such a
rate (denominator under :data:`SMALL_DENOMINATOR`, or a bootstrap interval of zero
width or undefined while the rate itself is defined) the report uses the Wilson
score interval of ``k`` successes in ``n`` trials instead (Wilson 1927; Brown, Cai &
DasGupta 2001 recommend it for small ``n``). It always contains the estimate and
has positive width for any ``n >= 1``, also at ``k = 0`` and ``k = n``.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from backends.evaluate.metrics import RATE_METRICS

#: A rate with fewer rows than this in its denominator gets a Wilson interval.
SMALL_DENOMINATOR = 30

#: The name the table, the JSON and the report give intervals replaced here.
WILSON = "wilson"


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> np.ndarray:
    """Wilson score intervals ``[..., 2]`` for ``successes`` out of ``trials`` (NaN where trials = 0)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    out = np.full(np.broadcast_shapes(k.shape, n.shape) + (2,), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    ok = n > 0
    out[..., 0] = np.where(ok, np.minimum(low, p), np.nan)
    out[..., 1] = np.where(ok, np.maximum(high, p), np.nan)
    return out


def rate_counts(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of every rate in :data:`RATE_METRICS`: two ``[..., M]`` arrays.

    ``confusion`` is ``[..., 2, 2]`` indexed ``[true label, prediction]``.
    """
    c = np.asarray(confusion, dtype=np.float64)
    tn, fp, fn, tp = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
    total = tn + fp + fn + tp
    parts = {
        "base_rate": (tp + fn, total),
        "selection_rate": (tp + fp, total),
        "tpr": (tp, tp + fn),
        "fpr": (fp, fp + tn),
        "fnr": (fn, tp + fn),
        "tnr": (tn, fp + tn),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
        "accuracy": (tp + tn, total),
    }
    numerator = np.stack([parts[m][0] for m in RATE_METRICS], axis=-1)
    denominator = np.stack([parts[m][1] for m in RATE_METRICS], axis=-1)
    return numerator, denominator


def needs_wilson(
    estimate: np.ndarray, interval: np.ndarray, denominator: np.ndarray
) -> np.ndarray:
    """Where a bootstrap interval ``[..., 2]`` should give way to a Wilson interval.

    A defined rate whose denominator is small, or whose bootstrap interval has no
    width or could not be formed.
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    low, high = interval[..., 0], interval[..., 1]
    degenerate = ~np.isfinite(low) | ~np.isfinite(high) | (high - low <= 0)
    small = np.asarray(denominator) < SMALL_DENOMINATOR
    return np.isfinite(estimate) & (np.asarray(denominator) > 0) & (small | degenerate)
