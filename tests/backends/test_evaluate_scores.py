"""ROC, calibration and per-group threshold post-processing from binned scores."""

from __future__ import annotations

import numpy as np
import pytest

from backends.evaluate.bootstrap import BootstrapError
from backends.evaluate.fairness import evaluate_fairness
from backends.evaluate.predictions import build_predictions
from backends.evaluate.scores import (
    build_score_table,
    calibration_curves,
    confusion_at,
    roc_curves,
)
from backends.evaluate.thresholds import (
    apply_acceptance,
    apply_group_thresholds,
    solve_thresholds,
)


def _scored(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.select([g == "a", g == "b"], [0.4, 0.5], 0.3)).astype(int)
    shift = np.select([g == "a", g == "b"], [0.0, 0.4], -0.3)
    score = 1 / (1 + np.exp(-(1.6 * y - 0.8 + rng.normal(0, 1, n) + shift)))
    return build_predictions(y, groups={"g": g}, scores=[np.round(score, 3)], thresholds=[0.5])


def test_roc_auc_per_group_equals_sklearn():
    from sklearn.metrics import roc_auc_score

    pred = _scored()
    roc = roc_curves(build_score_table(pred), resamples=200)
    for k in range(len(pred.group_names)):
        rows = pred.group == k
        assert roc.auc[k] == pytest.approx(roc_auc_score(pred.label[rows], pred.scores[0][rows]))
        low, high = roc.auc_ci[k]
        assert low < roc.auc[k] < high
    assert roc.auc[-1] == pytest.approx(roc_auc_score(pred.label, pred.scores[0]))
    assert roc.fpr[0, 0] == 1.0 and roc.tpr[0, -1] == 0.0


def test_confusion_at_a_threshold_equals_cutting_the_scores():
    pred = _scored()
    table = build_score_table(pred)
    conf = confusion_at(table.counts, table.threshold_index(0.5))
    report = evaluate_fairness(pred)
    for k, name in enumerate(pred.group_names):
        assert np.array_equal(conf[k], report.confusion(0, name))


def test_calibration_per_group_is_the_observed_share_per_score_bin():
    pred = _scored()
    cal = calibration_curves(build_score_table(pred), n_bins=5, resamples=300)
    assert cal.observed.shape == (3, 5)
    assert cal.scores_are_probabilities
    k = pred.group_names.index("b")
    rows = pred.group == k
    first = rows & (pred.scores[0] < cal.bin_low[1])
    assert cal.observed[k, 0] == pytest.approx(pred.label[first].mean())
    assert cal.mean_score[k, 0] == pytest.approx(pred.scores[0][first].mean())
    low, high = cal.ci[k, 0]
    assert low <= cal.observed[k, 0] <= high


@pytest.mark.parametrize("constraint", ["fpr", "tpr", "both"])
def test_post_processing_equalises_the_chosen_rates(constraint):
    pred = _scored()
    table = build_score_table(pred)
    solution = solve_thresholds(table, constraint)
    groups = slice(0, 3)
    if constraint in ("fpr", "both"):
        assert np.ptp(solution.rates["fpr"][groups]) < 1e-9
    if constraint in ("tpr", "both"):
        assert np.ptp(solution.rates["tpr"][groups]) < 1e-9
    # Equal rates cost accuracy against the best single threshold, never gain it.
    assert solution.accuracy <= solution.baseline_accuracy + 1e-9
    assert solution.accuracy > solution.baseline_accuracy - 0.05
    assert solution.accuracy_curve.max() == pytest.approx(solution.accuracy)
    # A drawn realisation has about the expected rates.
    realised = evaluate_fairness(apply_acceptance(pred, table, solution.acceptance, seed=3))
    for k, name in enumerate(pred.group_names):
        assert realised.value(0, "fpr", name) == pytest.approx(solution.rates["fpr"][k], abs=0.03)
    assert len(solution.rules) == 3 and all("score" in r for r in solution.rules)


@pytest.mark.filterwarnings("ignore::UserWarning")  # fairlearn: prefit estimator check
def test_equalised_odds_matches_fairlearn_threshold_optimizer_accuracy():
    pytest.importorskip("fairlearn")
    from fairlearn.postprocessing import ThresholdOptimizer

    pred = _scored(n=4000, seed=4)
    table = build_score_table(pred)
    ours = solve_thresholds(table, "both")

    from sklearn.base import BaseEstimator

    class Scores(BaseEstimator):
        """A fitted "estimator" whose prediction is the score column itself."""

        def fit(self, x, y):
            return self

        def predict(self, x):
            return np.asarray(x)[:, 0]

    opt = ThresholdOptimizer(
        estimator=Scores(), constraints="equalized_odds", prefit=True, predict_method="predict"
    )
    x = pred.scores[0][:, None]
    groups = np.array(pred.group_names)[pred.group]
    opt.fit(x, pred.label, sensitive_features=groups)
    probs = opt._pmf_predict(x, sensitive_features=groups)[:, 1]
    theirs = float(np.mean(np.where(pred.label == 1, probs, 1 - probs)))
    assert ours.accuracy == pytest.approx(theirs, abs=0.005)


def test_deterministic_group_thresholds_and_their_limits():
    pred = _scored()
    table = build_score_table(pred)
    solution = solve_thresholds(table, "fpr", randomize=False)
    assert set(np.unique(solution.acceptance)) <= {0.0, 1.0}
    assert np.ptp(solution.rates["fpr"][:3]) < 0.02
    with pytest.raises(BootstrapError, match="randomised"):
        solve_thresholds(table, "both", randomize=False)
    moved = apply_group_thresholds(pred, np.array([0.4, 0.5, 0.6]))
    k = pred.group_names.index("c")
    rows = pred.group == k
    assert np.array_equal(moved.pred[0][rows], (pred.scores[0][rows] >= 0.6).astype(np.int8))


def test_a_group_without_positives_cannot_be_equalised():
    y = np.array([0, 0, 1, 1, 0, 0] * 20)
    g = np.array(["x", "x", "y", "y", "y", "x"] * 20)
    s = np.linspace(0, 1, 120)
    pred = build_predictions(y, groups={"g": g}, scores=[s], thresholds=[0.5])
    with pytest.raises(BootstrapError, match="'x' has no positives"):
        solve_thresholds(build_score_table(pred), "tpr")
