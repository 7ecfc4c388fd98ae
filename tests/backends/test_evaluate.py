"""Fairness metrics, count-table bootstrap and the paired test, checked against fairlearn and scipy."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from backends.evaluate.bootstrap import (
    bca_acceleration,
    bootstrap_counts,
    draw_counts,
    intervals_from_distribution,
    jackknife_tables,
)
from backends.evaluate.fairness import build_cells, evaluate_fairness
from backends.evaluate.paired import compare_models, mcnemar_exact
from backends.evaluate.prediction_csv import CsvSelection, predictions_from_csv
from backends.evaluate.predictions import PredictionInputError, build_predictions


def _synthetic(n: int, seed: int, groups=("a", "b", "c"), second: bool = False):
    """Labels, one or two correlated classifiers and a group column; group c is less accurate."""
    rng = np.random.default_rng(seed)
    g = rng.choice(
        np.array(groups), n, p=np.linspace(1, 2, len(groups)) / np.linspace(1, 2, len(groups)).sum()
    )
    y = rng.integers(0, 2, n)
    noise = np.where(g == groups[-1], 0.35, 0.2)
    a = np.where(rng.random(n) < noise, 1 - y, y)
    b = np.where(rng.random(n) < 0.3, a, np.where(rng.random(n) < noise + 0.02, 1 - y, y))
    return g, y, a, b if second else None


# ------------------------------------------------------------------ metrics


def test_group_metrics_equal_fairlearn_metricframe():
    pytest.importorskip("fairlearn")
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    g, y, a, _ = _synthetic(3000, seed=1)
    sex = np.random.default_rng(2).choice(["F", "M"], len(y))
    report = evaluate_fairness(build_predictions(y, groups={"g": g, "sex": sex}, preds=[a]))
    metrics = {
        "count": count,
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "tnr": true_negative_rate,
        "ppv": lambda t, p: precision_score(t, p, zero_division=np.nan),
        "accuracy": accuracy_score,
    }
    frame = MetricFrame(
        metrics=metrics, y_true=y, y_pred=a, sensitive_features={"g": g, "sex": sex}
    )
    for (grp, s), row in frame.by_group.iterrows():
        name = f"{grp}, {s}"
        for metric in metrics:
            assert report.value(0, metric, name) == pytest.approx(row[metric], abs=1e-12), (
                name,
                metric,
            )
    for metric in ("selection_rate", "tpr", "fpr", "ppv"):
        assert report.gap(0, metric) == pytest.approx(frame.difference()[metric], abs=1e-12)
        assert report.gap(0, metric, "ratio") == pytest.approx(frame.ratio()[metric], abs=1e-12)
    features = np.char.add(np.char.add(g.astype(str), ", "), sex)
    assert report.gap(0, "selection_rate") == pytest.approx(
        demographic_parity_difference(y, a, sensitive_features=features)
    )
    assert report.gap(0, "selection_rate", "ratio") == pytest.approx(
        demographic_parity_ratio(y, a, sensitive_features=features)
    )
    diff, ratio = report.equalized_odds(0)
    assert diff == pytest.approx(equalized_odds_difference(y, a, sensitive_features=features))
    assert ratio == pytest.approx(equalized_odds_ratio(y, a, sensitive_features=features))


def test_propublica_table_and_json_per_group():
    g, y, a, _ = _synthetic(500, seed=3)
    report = evaluate_fairness(build_predictions(y, groups={"g": g}, preds=[a]), resamples=200)
    data = report.to_dict()
    for name in ("a", "b", "c"):
        entry = data["groups"][name]
        conf = entry["confusion"]
        assert conf["tp"] + conf["fn"] + conf["fp"] + conf["tn"] == entry["count"]
        assert entry["fpr"] == pytest.approx(conf["fp"] / (conf["fp"] + conf["tn"]))
        for metric in ("count", "base_rate", "selection_rate", "tpr", "fpr", "fnr", "ppv"):
            assert metric in entry
        low, high = entry["ci"]["bca"]["tpr"]
        assert low <= entry["tpr"] <= high
    assert data["overall"]["count"] == 500


# ------------------------------------------------------------------ bootstrap


def _fpr_gap_statistic(counts: np.ndarray) -> np.ndarray:
    """FPR of group 1 minus FPR of group 0 from cells [..., group, label, prediction]."""
    c = counts.astype(float)
    fpr = c[..., 0, 1] / c[..., 0, :].sum(-1)
    return (fpr[..., 1] - fpr[..., 0])[..., None]


def test_bca_equals_scipy_on_the_same_bootstrap_distribution():
    from scipy import stats

    rng = np.random.default_rng(5)
    n = 240
    g = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.25 + 0.1 * g, 1 - y, y)

    def statistic(gg, yy, pp, axis=-1):
        negatives = yy == 0
        fp = negatives & (pp == 1)
        fpr1 = (fp & (gg == 1)).sum(axis) / (negatives & (gg == 1)).sum(axis)
        fpr0 = (fp & (gg == 0)).sum(axis) / (negatives & (gg == 0)).sum(axis)
        return fpr1 - fpr0

    res = stats.bootstrap(
        (g, y, p), statistic, paired=True, vectorized=True, method="BCa", n_resamples=3000, rng=7
    )
    counts = np.zeros((2, 2, 2), dtype=np.int64)
    np.add.at(counts, (g, y, p), 1)
    estimate = _fpr_gap_statistic(counts)
    tables, multiplicity = jackknife_tables(counts)
    accel = bca_acceleration(_fpr_gap_statistic(tables), multiplicity)
    intervals, _ = intervals_from_distribution(
        estimate, res.bootstrap_distribution[:, None], methods=("bca",), acceleration=accel
    )
    low, high = intervals["bca"][0]
    assert low == pytest.approx(res.confidence_interval.low, abs=1e-10)
    assert high == pytest.approx(res.confidence_interval.high, abs=1e-10)


def test_multinomial_cell_draws_have_the_row_bootstrap_distribution():
    from scipy import stats

    g, y, a, _ = _synthetic(400, seed=11, groups=("a", "b"))
    codes = (g == "b").astype(int)
    counts = np.zeros((2, 2, 2), dtype=np.int64)
    np.add.at(counts, (codes, y, a), 1)
    rng = np.random.default_rng(12)
    resamples = 4000
    rows = rng.integers(0, len(y), size=(resamples, len(y)))
    gathered = np.zeros((resamples, 2, 2, 2))
    for b in range(resamples):
        np.add.at(gathered[b], (codes[rows[b]], y[rows[b]], a[rows[b]]), 1)
    by_rows = _fpr_gap_statistic(gathered)[:, 0]
    by_cells = _fpr_gap_statistic(draw_counts(counts, resamples, np.random.default_rng(13)))[:, 0]
    assert stats.ks_2samp(by_rows, by_cells).pvalue > 0.01
    assert np.quantile(by_rows, [0.025, 0.5, 0.975]) == pytest.approx(
        np.quantile(by_cells, [0.025, 0.5, 0.975]), abs=0.01
    )
    assert by_rows.std() == pytest.approx(by_cells.std(), rel=0.06)


def test_95_percent_intervals_cover_the_true_value_about_95_percent_of_the_time():
    """Simulated data sets with a known FPR difference between two groups."""
    rng = np.random.default_rng(21)
    true_gap = 0.30 - 0.20
    covered = {"percentile": 0, "bca": 0}
    sims = 300
    for s in range(sims):
        n = 800
        g = rng.integers(0, 2, n)
        y = rng.integers(0, 2, n)
        fpr = np.where(g == 1, 0.30, 0.20)
        p = np.where(y == 0, rng.random(n) < fpr, rng.random(n) < 0.7).astype(int)
        counts = np.zeros((2, 2, 2), dtype=np.int64)
        np.add.at(counts, (g, y, p), 1)
        result = bootstrap_counts(
            counts, _fpr_gap_statistic, resamples=600, seed=s, methods=("percentile", "bca")
        )
        for method in covered:
            low, high = result.intervals[method][0]
            covered[method] += low <= true_gap <= high
    for method, hits in covered.items():
        assert 0.91 <= hits / sims <= 0.985, (method, hits / sims)


def _accuracy_statistic(counts: np.ndarray) -> np.ndarray:
    return (counts[..., 0, 0] + counts[..., 1, 1]) / counts.sum(axis=(-1, -2))


def test_bootstrap_cost_does_not_grow_with_rows():
    """The same cell frequencies at 1,000 and 1,000,000 rows resample in similar time."""
    import time

    small = np.array([[[300, 100], [80, 520]]], dtype=np.int64)
    timings = []
    for scale in (1, 1000):
        start = time.perf_counter()
        bootstrap_counts(small * scale, _accuracy_statistic, resamples=2000)
        timings.append(time.perf_counter() - start)
    assert timings[1] < 5 * timings[0] + 0.05


# ------------------------------------------------------------------ paired test


def test_paired_test_equals_row_resampling_and_reads_plainly():
    g, y, a, b = _synthetic(1500, seed=31, second=True)
    pred = build_predictions(y, groups={"g": g}, preds=[a, b])
    result = compare_models(pred, "accuracy", resamples=20000, seed=1)
    delta = (a == y).mean() - (b == y).mean()
    assert result.delta == pytest.approx(delta)
    # Oracle: resample rows (the same rows for both models) and apply the same rule.
    rng = np.random.default_rng(2)
    diffs = []
    for _ in range(10):
        rows = rng.integers(0, len(y), size=(2000, len(y)))
        diffs.append((a[rows] == y[rows]).mean(1) - (b[rows] == y[rows]).mean(1))
    diffs = np.concatenate(diffs)
    p_rows = np.mean(np.sign(delta) * diffs > 2 * abs(delta))
    assert result.p_value == pytest.approx(p_rows, abs=0.015)
    low, high = result.ci
    assert low < delta < high
    assert result.distribution.shape == (20000,)
    # The exact McNemar test is two-sided, the bootstrap p one-sided: about twice as large.
    a_only = int(np.sum((a == y) & (b != y)))
    b_only = int(np.sum((a != y) & (b == y)))
    assert result.discordant == (a_only, b_only)
    assert result.mcnemar_p == pytest.approx(mcnemar_exact(a_only, b_only))
    assert 0.3 < result.p_value / result.mcnemar_p < 1.0
    assert f"p = {result.p_value:.4f}" in result.explanation


def test_paired_test_on_a_group_rate_and_a_gap():
    g, y, a, b = _synthetic(2000, seed=41, second=True)
    pred = build_predictions(y, groups={"g": g}, preds=[a, b])
    by_group = compare_models(pred, "fpr:c", resamples=2000)
    neg_c = (y == 0) & (g == "c")
    assert by_group.delta == pytest.approx(a[neg_c].mean() - b[neg_c].mean())
    gap = compare_models(pred, "fpr_gap", resamples=2000)
    report = evaluate_fairness(pred)
    assert gap.delta == pytest.approx(report.gap(0, "fpr") - report.gap(1, "fpr"))
    with pytest.raises(ValueError, match="choose one of"):
        compare_models(pred, "fpr:nobody", resamples=100)
    with pytest.raises(ValueError, match="unknown"):
        compare_models(pred, "speed", resamples=100)


def test_report_p_values_for_every_metric_of_two_models():
    g, y, a, b = _synthetic(1000, seed=51, second=True)
    report = evaluate_fairness(build_predictions(y, groups={"g": g}, preds=[a, b]), resamples=1000)
    data = report.to_dict()
    assert data["difference_a_minus_b"]["overall"]["accuracy"] == pytest.approx(
        (a == y).mean() - (b == y).mean()
    )
    p = data["difference_a_minus_b"]["overall"]["p_value"]["accuracy"]
    assert 0 <= p <= 1
    assert data["model_b"]["groups"]["a"]["count"] == int(np.sum(g == "a"))


# ------------------------------------------------------------------ bad input


def test_a_group_without_positives_shows_tpr_as_undefined_with_the_reason():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0] * 20)
    g = np.array(["x", "x", "x", "y", "y", "y", "y", "y"] * 20)
    p = np.array([0, 1, 0, 1, 0, 0, 1, 1] * 20)
    report = evaluate_fairness(build_predictions(y, groups={"g": g}, preds=[p]), resamples=300)
    assert math.isnan(report.value(0, "tpr", "x"))
    reason = report.undefined(0, "tpr", "x")
    assert reason and "no positives" in reason
    data = report.to_dict()
    assert data["groups"]["x"]["tpr"] is None
    assert "no positives" in data["groups"]["x"]["undefined"]["tpr"]
    assert any("no positives" in w for w in data["warnings"])
    # The TPR gap is taken over the groups where it is defined, as fairlearn does.
    assert data["between_groups"]["tpr"]["max_minus_min"] is None
    assert data["groups"]["y"]["ci"]["bca"]["tpr"][0] is not None


def test_a_single_group_is_reported_not_a_crash():
    y = np.array([0, 1, 1, 0, 1, 0] * 10)
    p = np.array([0, 1, 0, 0, 1, 1] * 10)
    report = evaluate_fairness(
        build_predictions(y, groups={"g": ["only"] * 60}, preds=[p]), resamples=200
    )
    data = report.to_dict()
    assert data["groups"]["only"]["accuracy"] == pytest.approx(np.mean(p == y))
    assert data["criteria"]["independence"]["demographic_parity_difference"] is None
    assert any("only one group" in w for w in data["warnings"])


def test_columns_of_different_length_are_refused():
    with pytest.raises(PredictionInputError, match="different lengths"):
        build_predictions(
            np.array([0, 1, 1]), groups={"g": ["a", "b", "a"]}, preds=[[0, 1, 1], [0, 1]]
        )


def test_non_binary_labels_and_nan_scores_are_refused_with_the_column():
    with pytest.raises(PredictionInputError, match="'label' is not binary.*3 values"):
        build_predictions(np.array([0, 1, 2]), groups={"g": ["a"] * 3}, preds=[[0, 1, 1]])
    with pytest.raises(PredictionInputError, match="'risk' has 1 NaN.*row 2"):
        build_predictions(
            np.array([0, 1, 1]),
            groups={"g": ["a"] * 3},
            scores=[np.array([0.1, np.nan, 0.7])],
            thresholds=[0.5],
            score_columns=["risk"],
        )
    with pytest.raises(PredictionInputError, match="which one is the positive class"):
        build_predictions(np.array(["<=50K", ">50K"]), groups={"g": ["a", "b"]}, preds=[[0, 1]])
    pred = build_predictions(
        np.array(["<=50K", ">50K"]), groups={"g": ["a", "b"]}, preds=[[0, 1]], positive_label=">50K"
    )
    assert pred.label.tolist() == [0, 1]


def test_a_misspelt_column_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("label,pred,race\n0,1,a\n1,1,b\n")
    selection = CsvSelection(label="label", pred_a="pred", groups=["Race"])
    with pytest.raises(
        PredictionInputError, match="group column 'Race' is not in the file.*'race'"
    ):
        predictions_from_csv(path, selection)
    with pytest.raises(PredictionInputError, match="'lable'.*did you mean 'label'"):
        predictions_from_csv(path, CsvSelection(label="lable", pred_a="pred", groups=["race"]))


def test_a_short_row_is_refused_with_its_line(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("label,pred_a,pred_b,g\n0,1,1,a\n1,1\n")
    selection = CsvSelection(label="label", pred_a="pred_a", pred_b="pred_b", groups=["g"])
    with pytest.raises(PredictionInputError, match="line 3 has 2 fields.*'pred_b'"):
        predictions_from_csv(path, selection)


def test_a_million_row_csv_loads_with_progress(tmp_path):
    n = 1_000_000
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    score = np.round(rng.random(n), 3)
    group = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    body = "\n".join(
        f"{a},{b},{c}" for a, b, c in zip(y.tolist(), score.tolist(), group.tolist(), strict=True)
    )
    path = tmp_path / "big.csv"
    path.write_text("y,score,group\n" + body + "\n")
    seen: list[float] = []
    pred = predictions_from_csv(
        path,
        CsvSelection(label="y", score_a="score", threshold_a=0.5, groups=["group"]),
        progress=seen.append,
    )
    assert pred.n_rows == n
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] == 1.0
    report = evaluate_fairness(pred, resamples=1000, between=False)
    assert report.value(0, "selection_rate") == pytest.approx(np.mean(score >= 0.5))


def test_cells_of_two_models_hold_every_combination():
    g, y, a, b = _synthetic(300, seed=61, second=True)
    cells = build_cells(build_predictions(y, groups={"g": g}, preds=[a, b]))
    assert cells.counts.shape == (3, 2, 2, 2)
    assert cells.counts.sum() == 300
    assert cells.confusion(1)[:, 1, 1].sum() == int(np.sum((y == 1) & (b == 1)))


# ------------------------------------------------------------------ exact p of a small test set


def _compositions(n: int, k: int):
    """Every way to put n rows into k cells (the support of a multinomial)."""
    if k == 1:
        yield (n,)
        return
    for first in range(n + 1):
        for rest in _compositions(n - first, k - 1):
            yield (first, *rest)


def _exact_paired_p(rows: list[tuple[int, int, int]], delta_of) -> float:
    """The paired bootstrap p with infinitely many resamples, by enumeration.

    ``rows`` are (label, prediction A, prediction B); resampling n rows with
    replacement gives cell counts ~ Multinomial(n, observed shares), so
    p = sum over count vectors c of P(c) [delta(c) > 2 delta(observed)] exactly, with
    the statistic computed in rational arithmetic (no rounding at all).
    """
    from fractions import Fraction

    cells = Counter(rows)
    keys = list(cells)
    n = len(rows)
    observed = delta_of(dict(cells))
    sign = 1 if observed > 0 else -1
    p = Fraction(0)
    for counts in _compositions(n, len(keys)):
        table = dict(zip(keys, counts, strict=True))
        value = delta_of(table)
        if value is None or not sign * value > 2 * abs(observed):
            continue
        weight = Fraction(math.factorial(n))
        for key, c in zip(keys, counts, strict=True):
            weight *= Fraction(cells[key], n) ** c / math.factorial(c)
        p += weight
    return float(p)


def _accuracy_delta(table):
    from fractions import Fraction

    n = sum(table.values())
    right_a = sum(c for (y, a, _), c in table.items() if a == y)
    right_b = sum(c for (y, _, b), c in table.items() if b == y)
    return Fraction(right_a - right_b, n)


def _tpr_delta(table):
    from fractions import Fraction

    positives = sum(c for (y, _, _), c in table.items() if y == 1)
    if positives == 0:
        return None
    hit_a = sum(c for (y, a, _), c in table.items() if y == 1 and a == 1)
    hit_b = sum(c for (y, _, b), c in table.items() if y == 1 and b == 1)
    return Fraction(hit_a - hit_b, positives)


@pytest.mark.parametrize(
    ("metric", "delta_of", "rows"),
    [
        # 12 rows; A right and B wrong on 3, the reverse on 1: delta = 2/12, ties at
        # 2 delta = 4/12 have probability ~0.06, so a rounding error would show.
        (
            "accuracy",
            _accuracy_delta,
            [(1, 1, 1)] * 4 + [(0, 0, 0)] * 3 + [(1, 1, 0)] * 2 + [(0, 0, 1)] + [(0, 1, 0)]
            + [(1, 0, 0)],
        ),
        # TPR of A minus B over 10 rows, 6 of them positives (a varying denominator).
        (
            "tpr",
            _tpr_delta,
            [(1, 1, 1)] * 2 + [(1, 1, 0)] * 2 + [(1, 0, 1)] + [(1, 0, 0)] + [(0, 0, 0)] * 3
            + [(0, 1, 1)],
        ),
    ],
)
def test_paired_p_equals_the_exact_multinomial_p_of_a_small_test_set(metric, delta_of, rows):
    y, a, b = (np.array(col) for col in zip(*rows, strict=True))
    pred = build_predictions(y, groups={"g": ["all"] * len(y)}, preds=[a, b])
    exact = _exact_paired_p(rows, delta_of)
    resamples = 400_000
    result = compare_models(pred, metric, resamples=resamples, seed=3, ci_method="percentile")
    assert result.delta == pytest.approx(float(delta_of(dict(Counter(rows)))))
    # The Monte-Carlo error of a proportion from 400k draws; 4 of them is a tight check
    # (a tie counted as exceeding would add P(delta_b = 2 delta), many errors here).
    se = math.sqrt(exact * (1 - exact) / resamples)
    assert abs(result.p_value - exact) < 4 * se, (result.p_value, exact, se)
