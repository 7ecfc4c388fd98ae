"""Score-based views: ROC and calibration per group, and per-group threshold post-processing.

Scores are binned once into a table of counts per (group, true label, score bin):
every distinct score is its own bin up to ``max_bins``, quantile bins beyond. A
threshold is a bin edge (predicted positive when the score is at least the edge),
so reverse cumulative sums give the confusion counts at every threshold at once,
and the bootstrap is again a multinomial draw over cells.

Post-processing (Hardt, Price & Srebro 2016, as fairlearn's ThresholdOptimizer):
each group gets its own threshold, chosen so that FPR, TPR, or both are equal
across groups while accuracy is as high as it can be. Equal rates generally need
randomisation (between two neighbouring thresholds, and for equalised odds also
with a coin of the shared FPR), so a solution is an *acceptance probability* per
group and score bin, and its rates are exact expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backends.evaluate.bootstrap import BootstrapError, check_settings, draw_counts
from backends.evaluate.metrics import RATE_METRICS, rate_stack
from backends.evaluate.predictions import Predictions
from backends.progress import ProgressCallback, report

CONSTRAINTS = ("fpr", "tpr", "both")
CONSTRAINT_NAMES = {
    "fpr": "equal false positive rates",
    "tpr": "equal true positive rates (equal opportunity)",
    "both": "equalised odds (equal TPR and FPR)",
}


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
    if model >= pred.n_models or pred.scores[model] is None:
        raise BootstrapError(
            "ROC, calibration and per-group thresholds need scores: choose a score column for "
            f"{pred.model_names[min(model, pred.n_models - 1)]}"
        )
    scores = pred.scores[model]
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


def _at_or_above(counts: np.ndarray) -> np.ndarray:
    """Counts ``[..., K + 1]`` in bins at or above each edge; the last entry (above all) is 0."""
    above = np.flip(np.cumsum(np.flip(counts, -1), axis=-1), -1)
    return np.concatenate([above, np.zeros(above.shape[:-1] + (1,))], axis=-1)


def confusion_at(counts: np.ndarray, index: np.ndarray | int) -> np.ndarray:
    """Confusion counts ``[..., G, 2, 2]`` when bins ``>= index[g]`` are predicted positive.

    ``counts`` is ``[..., G, 2, K]``; ``index`` one bin edge per group (or one for all).
    """
    counts = np.asarray(counts)
    k = counts.shape[-1]
    above = _at_or_above(counts)
    g = counts.shape[-3]
    index = np.broadcast_to(np.asarray(index, dtype=np.int64), (g,))
    index = np.clip(index, 0, k)
    positive = np.take_along_axis(above, index[:, None, None].repeat(2, axis=1), axis=-1)[..., 0]
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


def _roc_points(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR ``[..., K + 1]`` at every threshold from counts ``[..., 2, K]``."""
    above = _at_or_above(counts)
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
    fpr, tpr = _roc_points(with_overall)
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


# ------------------------------------------------------------------ post-processing


@dataclass
class ThresholdSolution:
    """Per-group decision rules and what they achieve (expected values when randomised).

    ``acceptance[g, k]`` is the probability of predicting positive for a row of
    group ``g`` in score bin ``k``. ``grid``/``accuracy_curve`` trace accuracy against
    the shared rate, the cost of the constraint; ``baseline_accuracy`` is the best
    single threshold for everyone.
    """

    constraint: str
    randomized: bool
    acceptance: np.ndarray
    confusion: np.ndarray  # [G, 2, 2] expected counts
    rates: dict[str, np.ndarray]  # metric -> [G + 1] (groups, overall)
    accuracy: float
    shared_rate: float
    grid: np.ndarray
    accuracy_curve: np.ndarray
    baseline_accuracy: float
    baseline_threshold: float
    rules: list[str]
    group_names: list[str]

    def to_dict(self) -> dict:
        names = [*self.group_names, "overall"]
        return {
            "constraint": self.constraint,
            "description": CONSTRAINT_NAMES.get(self.constraint, self.constraint),
            "randomized": self.randomized,
            "accuracy": self.accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "accuracy_cost": self.baseline_accuracy - self.accuracy,
            "baseline_threshold": self.baseline_threshold,
            "shared_rate": self.shared_rate,
            "rules": dict(zip(self.group_names, self.rules, strict=True)),
            "rates": {
                m: dict(zip(names, map(float, v), strict=True)) for m, v in self.rates.items()
            },
        }


def _upper_hull(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Indices of the ROC points on the upper convex hull, from (0, 0) to (1, 1)."""
    order = np.lexsort((tpr, fpr))  # by fpr, then tpr
    hull: list[int] = []
    for i in order:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (fpr[b] - fpr[a]) * (tpr[i] - tpr[a]) - (tpr[b] - tpr[a]) * (fpr[i] - fpr[a])
            if cross >= 0:  # b lies on or below the line from a to i
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.array(hull)


def _mix_rule(k: int, hi_index: int, lo_index: int, weight: float) -> np.ndarray:
    """Accept bins ``>= hi_index``; bins in ``[lo_index, hi_index)`` with probability ``weight``."""
    rule = np.zeros(k)
    rule[hi_index:] = 1.0
    if lo_index < hi_index:
        rule[lo_index:hi_index] = weight
    return rule


def _hull_point(
    hull_fpr: np.ndarray, hull_tpr: np.ndarray, x: float, by: str
) -> tuple[int, int, float]:
    """Hull positions ``(a, b)`` bracketing FPR (``by="fpr"``) or TPR ``x``, and the weight of b.

    At FPR ``x`` the highest TPR is taken (the top of a vertical stretch at FPR 0); at
    TPR ``x`` the lowest FPR (the start of the flat top at TPR 1).
    """
    if by == "fpr":
        pos = int(np.searchsorted(hull_fpr, x, side="right"))
        axis = hull_fpr
    else:
        pos = int(np.searchsorted(hull_tpr, x, side="left"))
        axis = hull_tpr
    pos = min(max(pos, 1), len(axis) - 1)
    span = axis[pos] - axis[pos - 1]
    w = 0.0 if span <= 0 else float(np.clip((x - axis[pos - 1]) / span, 0.0, 1.0))
    return pos - 1, pos, w


def _point_rule(
    k: int, fpr_pts: np.ndarray, tpr_pts: np.ndarray, hull: np.ndarray, x: float, by: str
) -> tuple[np.ndarray, float, float, tuple[int, int, float]]:
    """The rule reaching the hull at FPR or TPR ``x``: rule, its FPR and TPR, and (a, b, w)."""
    pa, pb, w = _hull_point(fpr_pts[hull], tpr_pts[hull], x, by)
    a, b = int(hull[pa]), int(hull[pb])
    # Point a has the higher threshold index (fewer positives) than point b.
    rule = _mix_rule(k, hi_index=a, lo_index=b, weight=w)
    fpr = fpr_pts[a] + w * (fpr_pts[b] - fpr_pts[a])
    tpr = tpr_pts[a] + w * (tpr_pts[b] - tpr_pts[a])
    return rule, float(fpr), float(tpr), (a, b, w)


def _describe(
    edges: np.ndarray, a: int, b: int, w: float, coin: tuple[float, float] | None = None
) -> str:
    """A rule in words: threshold ``edges[a]``, and ``edges[b]`` taken with probability ``w``.

    ``coin = (lam, x)``: the rule is followed with probability ``lam``, otherwise the
    prediction is positive at random with probability ``x`` (equalised odds).
    """
    k = len(edges)

    def at(i: int) -> str:
        return f"score >= {edges[i]:.4g}" if i < k else "never"

    if w <= 1e-9 or a == b:
        text = "positive if " + at(a) if a < k else "never positive"
    elif w >= 1 - 1e-9:
        text = "positive if " + at(b)
    else:
        upper = at(a) if a < k else "no score"
        text = f"positive if {upper}; with probability {w:.3f} also if {at(b)}"
    if coin is not None and coin[0] < 1 - 1e-9:
        lam, x = coin
        text = f"with probability {lam:.3f}: {text}; otherwise positive at random with probability {x:.3f}"
    return text


def expected_confusion(counts: np.ndarray, acceptance: np.ndarray) -> np.ndarray:
    """Expected confusion counts ``[G, 2, 2]`` of per-group rules on score counts ``[G, 2, K]``."""
    accepted = (np.asarray(counts, dtype=np.float64) * acceptance[:, None, :]).sum(
        axis=-1
    )  # [G, 2]
    total = np.asarray(counts, dtype=np.float64).sum(axis=-1)
    return np.stack([total - accepted, accepted], axis=-1)


def solve_thresholds(
    table: ScoreTable,
    constraint: str = "both",
    *,
    randomize: bool = True,
    grid_size: int = 1001,
    progress: ProgressCallback | None = None,
) -> ThresholdSolution:
    """Per-group rules equalising ``constraint`` (``fpr``, ``tpr`` or ``both``) at the best accuracy.

    With ``randomize=False`` (``fpr``/``tpr`` only) each group gets the plain threshold
    whose rate is nearest the shared target, so rates are only nearly equal.
    """
    if constraint not in CONSTRAINTS:
        raise BootstrapError(
            f"constraint {constraint!r} is unknown: choose one of {', '.join(CONSTRAINTS)}"
        )
    if constraint == "both" and not randomize:
        raise BootstrapError(
            "equalised odds needs randomised rules (plain thresholds cannot make TPR and FPR "
            "equal together): allow randomisation, or equalise FPR or TPR only"
        )
    counts = table.counts.astype(np.float64)
    g_count, k = table.n_groups, table.n_bins
    positives = counts[:, 1, :].sum(axis=1)
    negatives = counts[:, 0, :].sum(axis=1)
    empty = [table.group_names[g] for g in range(g_count) if positives[g] == 0 or negatives[g] == 0]
    if empty:
        raise BootstrapError(
            f"group {empty[0]!r} has no positives or no negatives, so its TPR or FPR is undefined "
            "and cannot be equalised: merge it with another group or leave it out"
        )
    n = counts.sum()
    fpr_pts, tpr_pts = _roc_points(counts)  # [G, K + 1]
    hulls = [_upper_hull(fpr_pts[g], tpr_pts[g]) for g in range(g_count)]
    grid = np.linspace(0.0, 1.0, grid_size)
    by = "tpr" if constraint == "tpr" else "fpr"

    def nearest(g: int, x: float) -> int:
        """The plain threshold of group ``g`` whose constrained rate is nearest ``x``."""
        pts = fpr_pts[g] if constraint == "fpr" else tpr_pts[g]
        return int(np.argmin(np.abs(pts - x)))

    def rates_at(x: float) -> tuple[np.ndarray, np.ndarray]:
        fpr = np.empty(g_count)
        tpr = np.empty(g_count)
        for g in range(g_count):
            if not randomize:
                j = nearest(g, x)
                fpr[g], tpr[g] = fpr_pts[g, j], tpr_pts[g, j]
                continue
            hull_fpr, hull_tpr = fpr_pts[g][hulls[g]], tpr_pts[g][hulls[g]]
            a, b, w = _hull_point(hull_fpr, hull_tpr, x, by)
            fpr[g] = hull_fpr[a] + w * (hull_fpr[b] - hull_fpr[a])
            tpr[g] = hull_tpr[a] + w * (hull_tpr[b] - hull_tpr[a])
        if constraint == "both":
            tpr[:] = tpr.min()
        return fpr, tpr

    curve = np.empty(grid_size)
    for i, x in enumerate(grid):
        fpr, tpr = rates_at(float(x))
        curve[i] = float((positives * tpr + negatives * (1 - fpr)).sum() / n)
        if i % 100 == 0:
            report(progress, 0.9 * i / grid_size)
    best = int(np.argmax(curve))
    x = float(grid[best])

    acceptance = np.zeros((g_count, k))
    rules: list[str] = []
    target = float(rates_at(x)[1].min())
    for g in range(g_count):
        if not randomize:
            j = nearest(g, x)
            acceptance[g] = _mix_rule(k, j, j, 0.0)
            rules.append(_describe(table.edges, j, j, 0.0))
            continue
        rule, f, t, (a, b, w) = _point_rule(k, fpr_pts[g], tpr_pts[g], hulls[g], x, by)
        coin = None
        if constraint == "both":
            # Mix the hull rule with a coin of probability x (the diagonal point (x, x)).
            lam = 1.0 if t - x <= 1e-12 else float(np.clip((target - x) / (t - x), 0.0, 1.0))
            rule = lam * rule + (1 - lam) * x
            coin = (lam, x)
        acceptance[g] = rule
        rules.append(_describe(table.edges, a, b, w, coin))
    confusion = expected_confusion(counts, acceptance)
    per_group = rate_stack(confusion)
    overall = rate_stack(confusion.sum(axis=0))
    rates = {m: np.append(per_group[:, i], overall[i]) for i, m in enumerate(RATE_METRICS)}

    # The best single threshold for everyone: what the constraint is compared with.
    total = counts.sum(axis=0)  # [2, K]
    above = _at_or_above(total)
    single = (above[1] + (total[0].sum() - above[0])) / n
    base = int(np.argmax(single))
    report(progress, 1.0)
    return ThresholdSolution(
        constraint=constraint,
        randomized=randomize,
        acceptance=acceptance,
        confusion=confusion,
        rates=rates,
        accuracy=float(rates["accuracy"][-1]),
        shared_rate=x,
        grid=grid,
        accuracy_curve=curve,
        baseline_accuracy=float(single[base]),
        baseline_threshold=table.threshold_value(base),
        rules=rules,
        group_names=list(table.group_names),
    )


def apply_acceptance(
    pred: Predictions,
    table: ScoreTable,
    acceptance: np.ndarray,
    *,
    model: int = 0,
    seed: int | None = 0,
) -> Predictions:
    """Predictions of ``model`` replaced by a drawn realisation of per-group rules."""
    scores = pred.scores[model]
    if scores is None:
        raise BootstrapError("per-group rules need the model's scores")
    bins = table.bin_of(scores)
    prob = acceptance[pred.group, bins]
    # A stream of its own, so the draw does not echo data generated with the same seed.
    draws = np.random.default_rng([0x5EED, seed or 0]).random(len(prob))
    preds = list(pred.pred)
    preds[model] = (draws < prob).astype(np.int8)
    return _replace_preds(pred, preds)


def apply_group_thresholds(
    pred: Predictions, thresholds: np.ndarray, *, model: int = 0
) -> Predictions:
    """Predictions of ``model`` with one score threshold per group (``thresholds[g]``)."""
    scores = pred.scores[model]
    if scores is None:
        raise BootstrapError("per-group thresholds need the model's scores: choose a score column")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (len(pred.group_names),):
        raise BootstrapError(
            f"give one threshold per group ({len(pred.group_names)}), not {thresholds.size}"
        )
    preds = list(pred.pred)
    preds[model] = (scores >= thresholds[pred.group]).astype(np.int8)
    return _replace_preds(pred, preds)


def _replace_preds(pred: Predictions, preds: list[np.ndarray]) -> Predictions:
    from dataclasses import replace

    return replace(pred, pred=preds)
