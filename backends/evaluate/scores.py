"""Score-based views: the binned score table, and ROC and calibration curves per group.

Scores are binned once into a table of counts per (group, true label, score bin):
every distinct score is its own bin up to ``max_bins``, quantile bins beyond. A
threshold is a bin edge (predicted positive when the score is at least the edge),
so reverse cumulative sums give the confusion counts at every threshold at once,
and the bootstrap is again a multinomial draw over cells. Per-group threshold
post-processing on the same table is :mod:`backends.evaluate.thresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backends.evaluate.bootstrap import BootstrapError, check_settings, draw_counts
from backends.evaluate.predictions import Predictions
from backends.progress import ProgressCallback, report


@dataclass
class ScoreTable:
    """Counts per ``[group, true label, score bin]``; bin ``k`` holds scores from ``edges[k]``."""

    counts: np.ndarray
    edges: np.ndarray
    score_sum: np.ndarray  # [group, bin]: sum of scores, for the calibration x axis
    group_names: list[str]
    model_name: str = "model A"

    @property
    def n_bins(self) -> int:
        return int(self.edges.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[0])

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        """The bin of each score (the last edge not above it)."""
        return np.clip(np.searchsorted(self.edges, scores, side="right") - 1, 0, self.n_bins - 1)

    def threshold_index(self, threshold: float) -> int:
        """The first bin predicted positive at ``threshold`` (snapped to a bin edge)."""
        return int(np.searchsorted(self.edges, threshold, side="left"))

    def threshold_value(self, index: int) -> float:
        """The score threshold of bin edge ``index`` (+inf: nothing predicted positive)."""
        return float(self.edges[index]) if index < self.n_bins else float("inf")


def build_score_table(pred: Predictions, model: int = 0, *, max_bins: int = 1000) -> ScoreTable:
    """Bin one model's scores per group and label (see module doc)."""
    scores = pred.scores[model] if model < pred.n_models else None
    if scores is None:
        raise BootstrapError(
            "ROC, calibration and per-group thresholds need scores: choose a score column for "
            f"{pred.model_names[min(model, pred.n_models - 1)]}"
        )
    distinct = np.unique(scores)
    if len(distinct) <= max_bins:
        edges = distinct
    else:
        edges = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, max_bins, endpoint=False)))
    n_groups = len(pred.group_names)
    bins = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, len(edges) - 1)
    cell = (pred.group.astype(np.int64) * 2 + pred.label) * len(edges) + bins
    counts = np.bincount(cell, minlength=n_groups * 2 * len(edges)).reshape(n_groups, 2, len(edges))
    sums = np.bincount(
        pred.group.astype(np.int64) * len(edges) + bins,
        weights=scores,
        minlength=n_groups * len(edges),
    ).reshape(n_groups, len(edges))
    return ScoreTable(
        counts=counts,
        edges=edges.astype(np.float64),
        score_sum=sums,
        group_names=list(pred.group_names),
        model_name=pred.model_names[model],
    )


def at_or_above(counts: np.ndarray) -> np.ndarray:
    """Counts ``[..., K + 1]`` in bins at or above each edge; the last entry (above all) is 0."""
    above = np.flip(np.cumsum(np.flip(counts, -1), axis=-1), -1)
    return np.concatenate([above, np.zeros(above.shape[:-1] + (1,))], axis=-1)


def confusion_at(counts: np.ndarray, index: np.ndarray | int) -> np.ndarray:
    """Confusion counts ``[..., G, 2, 2]`` when bins ``>= index[g]`` are predicted positive.

    ``counts`` is ``[..., G, 2, K]``; ``index`` one bin edge per group (or one for all).
    """
    counts = np.asarray(counts)
    k = counts.shape[-1]
    above = at_or_above(counts)
    g = counts.shape[-3]
    edge = np.clip(np.broadcast_to(np.asarray(index, dtype=np.int64), (g,)), 0, k)
    positive = np.take_along_axis(above, edge[:, None, None].repeat(2, axis=1), axis=-1)[..., 0]
    total = counts.sum(axis=-1)
    return np.stack([total - positive, positive], axis=-1)


# ------------------------------------------------------------------ ROC and calibration


@dataclass
class RocCurves:
    """ROC per group (rows ``0..G-1``) and overall (row ``G``), one point per threshold.

    Point ``j`` is the rates when bins ``>= j`` are predicted positive, so ``j = 0``
    is (1, 1) and ``j = K`` is (0, 0). ``auc_ci`` holds percentile intervals.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    auc: np.ndarray
    auc_ci: np.ndarray | None
    thresholds: np.ndarray
    names: list[str]


@dataclass
class CalibrationCurves:
    """Observed positive rate against mean score per group and score bin, with intervals."""

    mean_score: np.ndarray  # [G, C]
    observed: np.ndarray  # [G, C]
    ci: np.ndarray | None  # [G, C, 2]
    counts: np.ndarray  # [G, C]
    bin_low: np.ndarray  # [C] lowest score in each calibration bin
    names: list[str]
    scores_are_probabilities: bool
    calibration_error: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [G]


def roc_points(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR ``[..., K + 1]`` at every threshold from counts ``[..., 2, K]``."""
    above = at_or_above(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = above[..., 0, :] / above[..., 0, :1]
        tpr = above[..., 1, :] / above[..., 1, :1]
    return fpr, tpr


def _auc(counts: np.ndarray) -> np.ndarray:
    """Area under the ROC from counts ``[..., 2, K]`` (ties count half): Mann-Whitney U."""
    neg = counts[..., 0, :].astype(np.float64)
    pos = counts[..., 1, :].astype(np.float64)
    pos_above = np.flip(np.cumsum(np.flip(pos, -1), axis=-1), -1) - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return (neg * (pos_above + 0.5 * pos)).sum(axis=-1) / (neg.sum(-1) * pos.sum(-1))


def roc_curves(
    table: ScoreTable,
    *,
    resamples: int = 0,
    confidence: float = 0.95,
    seed: int | None = 0,
    progress: ProgressCallback | None = None,
) -> RocCurves:
    """ROC curves and AUC per group and overall; AUC intervals from ``resamples`` draws."""
    with_overall = np.concatenate([table.counts, table.counts.sum(axis=0, keepdims=True)], axis=0)
    fpr, tpr = roc_points(with_overall)
    auc = _auc(with_overall)
    ci = None
    if resamples:
        check_settings(resamples, confidence, ("percentile",))
        rng = np.random.default_rng(seed)
        values = []
        done = 0
        while done < resamples:
            size = min(500, resamples - done)
            draws = draw_counts(table.counts, size, rng)
            values.append(_auc(np.concatenate([draws, draws.sum(axis=1, keepdims=True)], axis=1)))
            done += size
            report(progress, done / resamples)
        ci = _percentile_interval(np.concatenate(values), confidence)
    return RocCurves(
        fpr=fpr,
        tpr=tpr,
        auc=auc,
        auc_ci=ci,
        thresholds=np.append(table.edges, np.inf),
        names=[*table.group_names, "overall"],
    )


def _percentile_interval(dist: np.ndarray, confidence: float) -> np.ndarray:
    """Percentile intervals ``[..., 2]`` of replicates ``[B, ...]``, undefined ones left out."""
    alpha = (1 - confidence) / 2
    return np.stack([_nanquantile(dist, alpha), _nanquantile(dist, 1 - alpha)], axis=-1)


def _nanquantile(dist: np.ndarray, q: float) -> np.ndarray:
    finite = np.isfinite(dist)
    out = np.full(dist.shape[1:], np.nan)
    for idx in np.ndindex(*dist.shape[1:]):
        column = dist[(slice(None), *idx)]
        column = column[finite[(slice(None), *idx)]]
        if column.size:
            out[idx] = np.quantile(column, q)
    return out


def calibration_curves(
    table: ScoreTable,
    *,
    n_bins: int = 10,
    resamples: int = 0,
    confidence: float = 0.95,
    seed: int | None = 0,
    progress: ProgressCallback | None = None,
) -> CalibrationCurves:
    """Per group: share of positives in each score bin against the bin's mean score.

    Up to ``n_bins`` distinct scores (COMPAS deciles) each get a bin; more are merged
    into ``n_bins`` bins of about equal size over all rows. Intervals are percentile
    intervals of the observed share from ``resamples`` multinomial draws.
    """
    k = table.n_bins
    if k <= n_bins:
        mapping = np.arange(k)
    else:
        share = np.cumsum(table.counts.sum(axis=(0, 1))) / table.counts.sum()
        mapping = np.minimum((share * n_bins - 1e-9).astype(np.int64), n_bins - 1)
        # Bins that received no score bin are dropped by renumbering.
        _, mapping = np.unique(mapping, return_inverse=True)
    n_cal = int(mapping.max()) + 1
    merge = np.zeros((k, n_cal))
    merge[np.arange(k), mapping] = 1.0
    cal = table.counts @ merge  # [G, 2, C]
    sums = table.score_sum @ merge  # [G, C]
    total = cal.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = cal[:, 1, :] / total
        mean_score = sums / total
    ci = None
    if resamples:
        check_settings(resamples, confidence, ("percentile",))
        rng = np.random.default_rng(seed)
        draws = draw_counts(cal.astype(np.int64), resamples, rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = draws[:, :, 1, :] / draws.sum(axis=2)
        ci = _percentile_interval(shares, confidence)
        report(progress, 1.0)
    bin_low = np.array([table.edges[np.flatnonzero(mapping == c)[0]] for c in range(n_cal)])
    probabilities = bool(table.edges.min() >= 0.0 and table.edges.max() <= 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = total / total.sum(axis=1, keepdims=True)
        error = np.nansum(weights * np.abs(observed - mean_score), axis=1)
    return CalibrationCurves(
        mean_score=mean_score,
        observed=observed,
        ci=ci,
        counts=total,
        bin_low=bin_low,
        names=list(table.group_names),
        scores_are_probabilities=probabilities,
        calibration_error=error if probabilities else np.full(table.n_groups, np.nan),
    )
