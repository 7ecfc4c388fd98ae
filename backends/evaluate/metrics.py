"""Classification metrics computed from counts, vectorised over any batch of count tables.

Every count-based metric of a binary classifier (selection rate, TPR, FPR, PPV, ...)
is a function of the confusion counts of each group. This module holds those
functions. They take count arrays whose *last* axes are the confusion table and
whose leading axes are anything (bootstrap replicates, jackknife tables, groups), so
one call evaluates a metric on 10,000 resampled test sets at once.

A metric whose denominator is zero (TPR in a group with no positives, PPV for a
model that never predicts positive) is NaN here; :func:`undefined_reason` turns that
into a sentence for the user.
"""

from __future__ import annotations

import numpy as np

#: Rates reported for every group, in display order. ``count`` is reported too but
#: is not a rate.
RATE_METRICS: tuple[str, ...] = (
    "base_rate",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "ppv",
    "npv",
    "accuracy",
)

#: What each metric is, for tooltips, reports and the CLI's help.
METRIC_DESCRIPTIONS: dict[str, str] = {
    "count": "rows in the group",
    "base_rate": "share of rows whose true label is positive",
    "selection_rate": "share of rows predicted positive",
    "tpr": "true positive rate (recall): positives predicted positive",
    "fpr": "false positive rate: negatives predicted positive",
    "fnr": "false negative rate: positives predicted negative",
    "tnr": "true negative rate (specificity): negatives predicted negative",
    "ppv": "positive predictive value (precision): predicted positives that are positive",
    "npv": "negative predictive value: predicted negatives that are negative",
    "accuracy": "share of rows predicted correctly",
}

# Which denominator each metric divides by; used to explain an undefined value.
_DENOMINATOR_REASON: dict[str, str] = {
    "base_rate": "the group is empty",
    "selection_rate": "the group is empty",
    "accuracy": "the group is empty",
    "tpr": "the group has no positives (true label 1)",
    "fnr": "the group has no positives (true label 1)",
    "fpr": "the group has no negatives (true label 0)",
    "tnr": "the group has no negatives (true label 0)",
    "ppv": "the model predicts no positives in the group",
    "npv": "the model predicts no negatives in the group",
}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0, without warnings."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast_shapes(numerator.shape, denominator.shape), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def rates(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Every rate in :data:`RATE_METRICS` from confusion counts.

    ``confusion`` has shape ``[..., 2, 2]`` indexed ``[true label, predicted label]``
    (so ``[..., 1, 1]`` are the true positives). Counts may be floats (expected counts
    of a randomised rule). Returns arrays of shape ``[...]``; NaN where undefined.
    """
    c = np.asarray(confusion, dtype=np.float64)
    tn, fp = c[..., 0, 0], c[..., 0, 1]
    fn, tp = c[..., 1, 0], c[..., 1, 1]
    positives = tp + fn
    negatives = tn + fp
    predicted_pos = tp + fp
    predicted_neg = tn + fn
    total = positives + negatives
    return {
        "base_rate": _ratio(positives, total),
        "selection_rate": _ratio(predicted_pos, total),
        "tpr": _ratio(tp, positives),
        "fpr": _ratio(fp, negatives),
        "fnr": _ratio(fn, positives),
        "tnr": _ratio(tn, negatives),
        "ppv": _ratio(tp, predicted_pos),
        "npv": _ratio(tn, predicted_neg),
        "accuracy": _ratio(tp + tn, total),
    }


def rate_stack(confusion: np.ndarray) -> np.ndarray:
    """:func:`rates` stacked on a new last axis in :data:`RATE_METRICS` order: ``[..., M]``."""
    values = rates(confusion)
    return np.stack([values[name] for name in RATE_METRICS], axis=-1)


def undefined_reason(metric: str, confusion: np.ndarray) -> str | None:
    """Why ``metric`` is undefined for one confusion table ``[2, 2]``, or None if it is defined."""
    c = np.asarray(confusion, dtype=np.float64)
    value = rates(c).get(metric)
    if value is None or np.isfinite(value):
        return None
    return _DENOMINATOR_REASON[metric]


def _extremes(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest and largest defined value along ``axis``, and where at least two are defined."""
    v = np.asarray(values, dtype=np.float64)
    lo = np.fmin.reduce(v, axis=axis)
    hi = np.fmax.reduce(v, axis=axis)
    return lo, hi, np.sum(np.isfinite(v), axis=axis) >= 2


def gap(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Largest minus smallest value along ``axis``, ignoring undefined (NaN) entries.

    NaN when fewer than two entries are defined. This is fairlearn's
    ``difference(method="between_groups")``. Near equality it is biased upwards (a
    max - min is never negative), so its percentile interval rarely covers 0.
    """
    lo, hi, enough = _extremes(values, axis)
    return np.where(enough, hi - lo, np.nan)


def min_max_ratio(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Smallest over largest value along ``axis`` (ignoring NaN); 1 means parity.

    The "80 % rule" of disparate impact asks this to be at least 0.8 for selection
    rates. NaN when fewer than two entries are defined or the largest is 0.
    """
    lo, hi, enough = _extremes(values, axis)
    return np.where(enough, _ratio(lo, hi), np.nan)
