"""Per-group threshold post-processing (Hardt, Price & Srebro 2016, as fairlearn's ThresholdOptimizer).

Each group gets its own threshold, chosen so that FPR, TPR, or both are equal
across groups while accuracy is as high as it can be. Equal rates generally need
randomisation (between two neighbouring thresholds, and for equalised odds also
with a coin of the shared FPR), so a solution is an *acceptance probability* per
group and score bin, and its rates are exact expectations.

The search runs over a grid of shared rates: for each, every group's best rule on
the upper hull of its ROC (or, without randomisation, its nearest plain threshold),
and the accuracy that gives; the best point becomes the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from backends.evaluate.bootstrap import BootstrapError
from backends.evaluate.metrics import RATE_METRICS, rate_stack
from backends.evaluate.predictions import Predictions
from backends.evaluate.scores import ScoreTable, at_or_above, roc_points
from backends.progress import ProgressCallback, report

CONSTRAINTS = ("fpr", "tpr", "both")
CONSTRAINT_NAMES = {
    "fpr": "equal false positive rates",
    "tpr": "equal true positive rates (equal opportunity)",
    "both": "equalised odds (equal TPR and FPR)",
}


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



@dataclass
class _GroupRocs:
    """Each group's ROC points ``[G, K + 1]`` and the indices of its upper convex hull."""

    fpr: np.ndarray
    tpr: np.ndarray
    hulls: list[np.ndarray]

    @classmethod
    def of(cls, counts: np.ndarray) -> _GroupRocs:
        fpr, tpr = roc_points(counts)
        return cls(fpr, tpr, [_upper_hull(fpr[g], tpr[g]) for g in range(counts.shape[0])])

    def nearest(self, g: int, constraint: str, x: float) -> int:
        """The plain threshold of group ``g`` whose constrained rate is nearest ``x``."""
        pts = self.fpr[g] if constraint == "fpr" else self.tpr[g]
        return int(np.argmin(np.abs(pts - x)))


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
    _check_solvable(table, constraint, randomize)
    counts = table.counts.astype(np.float64)
    rocs = _GroupRocs.of(counts)
    grid = np.linspace(0.0, 1.0, grid_size)
    curve = _accuracy_curve(counts, rocs, constraint, randomize, grid, progress)
    x = float(grid[int(np.argmax(curve))])
    if randomize:
        target = float(_rates_at(rocs, constraint, randomize, x)[1].min())
        acceptance, rules = _hull_rules(table, rocs, constraint, x, target)
    else:
        acceptance, rules = _plain_rules(table, rocs, constraint, x)
    confusion = expected_confusion(counts, acceptance)
    per_group = rate_stack(confusion)
    overall = rate_stack(confusion.sum(axis=0))
    rates = {m: np.append(per_group[:, i], overall[i]) for i, m in enumerate(RATE_METRICS)}
    baseline_accuracy, base = _best_single_threshold(counts)
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
        baseline_accuracy=baseline_accuracy,
        baseline_threshold=table.threshold_value(base),
        rules=rules,
        group_names=list(table.group_names),
    )


def _check_solvable(table: ScoreTable, constraint: str, randomize: bool) -> None:
    """Refuse an unknown constraint, equalised odds without randomisation, and one-class groups."""
    if constraint not in CONSTRAINTS:
        raise BootstrapError(
            f"constraint {constraint!r} is unknown: choose one of {', '.join(CONSTRAINTS)}"
        )
    if constraint == "both" and not randomize:
        raise BootstrapError(
            "equalised odds needs randomised rules (plain thresholds cannot make TPR and FPR "
            "equal together): allow randomisation, or equalise FPR or TPR only"
        )
    positives = table.counts[:, 1, :].sum(axis=1)
    negatives = table.counts[:, 0, :].sum(axis=1)
    empty = [
        table.group_names[g]
        for g in range(table.n_groups)
        if positives[g] == 0 or negatives[g] == 0
    ]
    if empty:
        raise BootstrapError(
            f"group {empty[0]!r} has no positives or no negatives, so its TPR or FPR is undefined "
            "and cannot be equalised: merge it with another group or leave it out"
        )


def _rates_at(
    rocs: _GroupRocs, constraint: str, randomize: bool, x: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each group's (FPR, TPR) when its constrained rate is set to ``x``."""
    g_count = rocs.fpr.shape[0]
    by = "tpr" if constraint == "tpr" else "fpr"
    fpr = np.empty(g_count)
    tpr = np.empty(g_count)
    for g in range(g_count):
        if not randomize:
            j = rocs.nearest(g, constraint, x)
            fpr[g], tpr[g] = rocs.fpr[g, j], rocs.tpr[g, j]
            continue
        hull_fpr, hull_tpr = rocs.fpr[g][rocs.hulls[g]], rocs.tpr[g][rocs.hulls[g]]
        a, b, w = _hull_point(hull_fpr, hull_tpr, x, by)
        fpr[g] = hull_fpr[a] + w * (hull_fpr[b] - hull_fpr[a])
        tpr[g] = hull_tpr[a] + w * (hull_tpr[b] - hull_tpr[a])
    if constraint == "both":
        tpr[:] = tpr.min()
    return fpr, tpr


def _accuracy_curve(
    counts: np.ndarray,
    rocs: _GroupRocs,
    constraint: str,
    randomize: bool,
    grid: np.ndarray,
    progress: ProgressCallback | None,
) -> np.ndarray:
    """Accuracy at each shared rate of ``grid``: the cost of the constraint along the way."""
    positives = counts[:, 1, :].sum(axis=1)
    negatives = counts[:, 0, :].sum(axis=1)
    n = counts.sum()
    curve = np.empty(len(grid))
    for i, x in enumerate(grid):
        fpr, tpr = _rates_at(rocs, constraint, randomize, float(x))
        curve[i] = float((positives * tpr + negatives * (1 - fpr)).sum() / n)
        if i % 100 == 0:
            report(progress, 0.9 * i / len(grid))
    return curve


def _plain_rules(
    table: ScoreTable, rocs: _GroupRocs, constraint: str, x: float
) -> tuple[np.ndarray, list[str]]:
    """Each group's plain threshold whose constrained rate is nearest ``x``."""
    acceptance = np.zeros((table.n_groups, table.n_bins))
    rules: list[str] = []
    for g in range(table.n_groups):
        j = rocs.nearest(g, constraint, x)
        acceptance[g] = _mix_rule(table.n_bins, j, j, 0.0)
        rules.append(_describe(table.edges, j, j, 0.0))
    return acceptance, rules


def _hull_rules(
    table: ScoreTable, rocs: _GroupRocs, constraint: str, x: float, target: float
) -> tuple[np.ndarray, list[str]]:
    """Randomised rules on each group's hull at rate ``x``; for equalised odds mixed with a coin."""
    by = "tpr" if constraint == "tpr" else "fpr"
    k = table.n_bins
    acceptance = np.zeros((table.n_groups, k))
    rules: list[str] = []
    for g in range(table.n_groups):
        rule, _, t, (a, b, w) = _point_rule(k, rocs.fpr[g], rocs.tpr[g], rocs.hulls[g], x, by)
        coin = None
        if constraint == "both":
            # Mix the hull rule with a coin of probability x (the diagonal point (x, x)).
            lam = 1.0 if t - x <= 1e-12 else float(np.clip((target - x) / (t - x), 0.0, 1.0))
            rule = lam * rule + (1 - lam) * x
            coin = (lam, x)
        acceptance[g] = rule
        rules.append(_describe(table.edges, a, b, w, coin))
    return acceptance, rules


def _best_single_threshold(counts: np.ndarray) -> tuple[float, int]:
    """The accuracy and bin edge of the best single threshold for everyone (the baseline)."""
    n = counts.sum()
    total = counts.sum(axis=0)  # [2, K]
    above = at_or_above(total)
    single = (above[1] + (total[0].sum() - above[0])) / n
    base = int(np.argmax(single))
    return float(single[base]), base


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
    pred: Predictions, thresholds: Sequence[float] | np.ndarray, *, model: int = 0
) -> Predictions:
    """Predictions of ``model`` with one score threshold per group (``thresholds[g]``)."""
    scores = pred.scores[model]
    if scores is None:
        raise BootstrapError("per-group thresholds need the model's scores: choose a score column")
    cuts = np.asarray(thresholds, dtype=np.float64)
    if cuts.shape != (len(pred.group_names),):
        raise BootstrapError(
            f"give one threshold per group ({len(pred.group_names)}), not {cuts.size}"
        )
    preds = list(pred.pred)
    preds[model] = (scores >= cuts[pred.group]).astype(np.int8)
    return _replace_preds(pred, preds)


def _replace_preds(pred: Predictions, preds: list[np.ndarray]) -> Predictions:
    return replace(pred, pred=preds)
