"""Paired bootstrap test of two models on the same rows (Berg-Kirkpatrick et al., EMNLP 2012).

``delta = metric(A) - metric(B)`` on the test set. Resampling the test set, the
*same* rows for both models, shows how much ``delta`` moves by chance; shifted to
centre on zero, it gives the p-value ``#{b : delta_b > 2 delta} / B``: how often a
difference as large as the observed one turns up when the models are equally good.
Resampling is the multinomial draw over the cells (group x label x prediction A x
prediction B), so it costs the same for a thousand rows or a million.

The metric may be any rate overall or within a group, a between-group gap
(``fpr_gap``: max - min over groups) or equalised odds, so the test answers "is B
really better, and for whom?".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backends.evaluate.bootstrap import BootstrapError, bootstrap_counts
from backends.evaluate.cells import build_cells
from backends.evaluate.fairness_json import json_number
from backends.evaluate.fairness_statistics import Layout, fairness_statistic
from backends.evaluate.metrics import RATE_METRICS
from backends.evaluate.p_values import paired_p_values
from backends.evaluate.predictions import Predictions
from backends.progress import ProgressCallback

# Which direction is better for each rate; None where neither is (a selection rate
# is a policy choice, a base rate does not depend on the model).
_HIGHER_IS_BETTER: dict[str, bool | None] = {
    "accuracy": True,
    "tpr": True,
    "tnr": True,
    "ppv": True,
    "npv": True,
    "fpr": False,
    "fnr": False,
    "selection_rate": None,
    "base_rate": None,
}
_ALIASES = {
    "demographic_parity_difference": "selection_rate_gap",
    "equalized_odds": "equalized_odds_difference",
}


@dataclass(frozen=True)
class MetricChoice:
    """A parsed metric for the paired test: which block and position of the statistics."""

    spec: str
    block: str
    position: tuple[int, ...]
    description: str
    higher_is_better: bool | None


def metric_choices(group_names: list[str]) -> list[str]:
    """Every metric spec :func:`parse_metric` accepts for these groups."""
    specs = [m for m in RATE_METRICS if m != "base_rate"]
    specs += [f"{m}:{g}" for m in RATE_METRICS if m != "base_rate" for g in group_names]
    if len(group_names) >= 2:
        specs += [f"{m}_gap" for m in RATE_METRICS if m != "base_rate"]
        specs += ["equalized_odds_difference"]
    return specs


def parse_metric(spec: str, group_names: list[str]) -> MetricChoice:
    """Read a metric spec: ``accuracy``, ``fpr:<group>``, ``fpr_gap`` or ``equalized_odds_difference``."""
    text = _ALIASES.get(spec.strip(), spec.strip())
    n_groups = len(group_names)
    names = ", ".join(RATE_METRICS)
    if text == "equalized_odds_difference":
        if n_groups < 2:
            raise BootstrapError("equalized odds compares groups, but there is only one group")
        return MetricChoice(
            spec,
            "delta.eo",
            (0,),
            "equalised-odds difference (worse of the TPR and FPR gaps)",
            False,
        )
    if text.endswith("_gap"):
        metric = text[: -len("_gap")]
        if metric not in RATE_METRICS:
            raise BootstrapError(
                f"metric {spec!r} is unknown: a gap is <metric>_gap with metric one of {names}"
            )
        if n_groups < 2:
            raise BootstrapError(f"{spec} compares groups, but there is only one group")
        return MetricChoice(
            spec,
            "delta.gap",
            (RATE_METRICS.index(metric),),
            f"gap in {metric} between groups (max - min)",
            False,
        )
    metric, _, group = text.partition(":")
    if metric not in RATE_METRICS:
        raise BootstrapError(
            f"metric {spec!r} is unknown: choose one of {names}, optionally with :<group>, or <metric>_gap"
        )
    if group:
        if group not in group_names:
            raise BootstrapError(
                f"group {group!r} in metric {spec!r} is not a group: choose one of {', '.join(group_names)}"
            )
        row = group_names.index(group)
        where = f"group {group}"
    else:
        row = n_groups
        where = "all rows"
    return MetricChoice(
        spec,
        "delta.rates",
        (row, RATE_METRICS.index(metric)),
        f"{metric} ({where})",
        _HIGHER_IS_BETTER[metric],
    )


@dataclass
class PairedTest:
    """The outcome of a paired bootstrap test; ``distribution`` holds the resampled deltas."""

    metric: str
    description: str
    model_names: list[str]
    value_a: float
    value_b: float
    delta: float
    ci: tuple[float, float]
    ci_method: str
    confidence: float
    p_value: float
    resamples: int
    seed: int | None
    distribution: np.ndarray
    higher_is_better: bool | None
    undefined_share: float
    mcnemar_p: float | None = None
    discordant: tuple[int, int] | None = None

    @property
    def explanation(self) -> str:
        """What the numbers mean, in a sentence or three."""
        a, b = self.model_names
        if not math.isfinite(self.delta):
            return f"The {self.description} is undefined for at least one model, so they cannot be compared."
        if self.delta == 0:
            return (
                f"{a} and {b} have the same {self.description} on this test set: there is no "
                "difference to test."
            )
        direction = "higher" if self.delta > 0 else "lower"
        verdict = ""
        if self.higher_is_better is not None:
            better = (self.delta > 0) == self.higher_is_better
            verdict = f" ({a if better else b} does better on it)"
        low, high = self.ci
        pct = f"{self.confidence:.0%}"
        if self.p_value * self.resamples < 1:
            chance = (
                f"in none of {self.resamples:,} resampled test sets (p < {1 / self.resamples:.1g})"
            )
        else:
            chance = f"in {self.p_value:.1%} of resampled test sets (p = {self.p_value:.4f})"
        return (
            f"{a}'s {self.description} is {abs(self.delta):.4g} {direction} than {b}'s{verdict}; "
            f"{pct} interval of the difference: [{low:.4g}, {high:.4g}]. If the two models were "
            f"equally good on this measure, a difference at least this large in the same "
            f"direction would appear {chance}. A small p says the difference is unlikely to be "
            "luck of this test set; it says nothing about how much the difference matters."
        )

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "description": self.description,
            "models": self.model_names,
            "value_a": json_number(self.value_a),
            "value_b": json_number(self.value_b),
            "delta": json_number(self.delta),
            "ci": [json_number(self.ci[0]), json_number(self.ci[1])],
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "p_value": json_number(self.p_value),
            "resamples": self.resamples,
            "seed": self.seed,
            "undefined_share": self.undefined_share,
            "mcnemar_p": self.mcnemar_p,
            "discordant": list(self.discordant) if self.discordant else None,
            "explanation": self.explanation,
        }


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (a cross-check for accuracy)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    # Binomial(n, 1/2) tail, doubled; computed in log space so large n does not overflow.
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
        for i in range(k + 1)
    ]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2.0 * tail)


def compare_models(
    pred: Predictions,
    metric: str = "accuracy",
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    ci_method: str = "bca",
    seed: int | None = 0,
    progress: ProgressCallback | None = None,
) -> PairedTest:
    """Paired bootstrap test of model A against model B on one metric (see module doc)."""
    if pred.n_models != 2:
        raise BootstrapError(
            "the paired test needs two models' predictions on the same rows: choose model B"
        )
    cells = build_cells(pred)
    choice = parse_metric(metric, cells.group_names)
    between = choice.block != "delta.rates"
    layout = Layout(n_groups=cells.n_groups, n_models=2, reference=0, between=between)
    full = fairness_statistic(layout)
    picks = np.array([layout.index(choice.block, *choice.position)])

    def statistic(counts: np.ndarray) -> np.ndarray:
        return full(counts)[..., picks]

    result = bootstrap_counts(
        cells.counts,
        statistic,
        resamples=resamples,
        confidence=confidence,
        methods=(ci_method,),
        seed=seed,
        keep_distribution=True,
        progress=progress,
    )
    value_a, value_b = _each_model(full(cells.counts), layout, choice)
    distribution = result.distribution
    assert distribution is not None  # keep_distribution=True
    low, high = result.intervals[ci_method][0]
    test = PairedTest(
        metric=metric,
        description=choice.description,
        model_names=list(cells.model_names),
        value_a=value_a,
        value_b=value_b,
        delta=float(result.estimate[0]),
        ci=(float(low), float(high)),
        ci_method=ci_method,
        confidence=confidence,
        p_value=float(paired_p_values(result.estimate, distribution, cells.n_rows)[0]),
        resamples=resamples,
        seed=seed,
        distribution=distribution[:, 0].copy(),
        higher_is_better=choice.higher_is_better,
        undefined_share=float(result.nan_fraction[0]),
    )
    if choice.block == "delta.rates" and RATE_METRICS[choice.position[1]] == "accuracy":
        _add_mcnemar(test, cells.counts, choice.position[0])
    return test


def _each_model(values: np.ndarray, layout: Layout, choice: MetricChoice) -> tuple[float, float]:
    """Model A's and model B's own values of the metric whose difference is tested."""
    a_index = layout.index(choice.block.replace("delta.", "m0."), *choice.position)
    b_index = layout.index(choice.block.replace("delta.", "m1."), *choice.position)
    return float(values[a_index]), float(values[b_index])


def _add_mcnemar(test: PairedTest, counts: np.ndarray, row: int) -> None:
    """For accuracy: the discordant pairs in group ``row`` (or overall) and McNemar's exact p."""
    c = counts if row == counts.shape[0] else counts[row : row + 1]
    # A right and B wrong: label y, A predicts y, B predicts 1 - y.
    a_only = int(c[:, 0, 0, 1].sum() + c[:, 1, 1, 0].sum())
    b_only = int(c[:, 0, 1, 0].sum() + c[:, 1, 0, 1].sum())
    test.discordant = (a_only, b_only)
    test.mcnemar_p = mcnemar_exact(a_only, b_only)
