"""Fairness metrics per group, the three fairness criteria, and their bootstrap intervals.

Predictions are tabulated once into a cell table (group x true label x model A's
prediction [x model B's prediction]). Every reported number, per-group rates,
differences and ratios between groups, max - min gaps, equalised odds, and model A
minus model B for each of them, is a function of that table, so the bootstrap draws
the table (see :mod:`backends.evaluate.bootstrap`) and evaluates all of them at
once, for any number of rows.

The criteria (Barocas, Hardt & Narayanan, *Fairness and Machine Learning*):
independence compares selection rates (demographic parity, the 80 % rule);
separation compares error rates given the true label (TPR and FPR: equalised odds);
sufficiency compares outcomes given the prediction (PPV and NPV; calibration curves
per group live in :mod:`backends.evaluate.scores`). Outside trivial cases they
cannot all hold at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backends.evaluate.bootstrap import BootstrapError, BootstrapResult, bootstrap_counts
from backends.evaluate.cells import OVERALL, CellTable, build_cells
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.fairness_statistics import Layout, fairness_statistic
from backends.evaluate.metrics import RATE_METRICS, rate_stack, undefined_reason
from backends.evaluate.p_values import paired_p_values
from backends.evaluate.predictions import Predictions
from backends.evaluate.small_counts import (
    SMALL_DENOMINATOR,
    needs_wilson,
    rate_counts,
    wilson_interval,
)
from backends.progress import ProgressCallback

__all__ = ["OVERALL", "FairnessReport", "build_cells", "evaluate_fairness"]

# A group smaller than this, or with fewer positives/negatives than _SMALL_CLASS,
# gets a warning: its rates swing widely between test sets.
_SMALL_GROUP = 30
_SMALL_CLASS = 10


def _warnings(cells: CellTable) -> list[str]:
    """Plain-language cautions about the data: single group, small groups, undefined rates."""
    out: list[str] = []
    if cells.n_groups < 2:
        only = cells.group_names[0] if cells.group_names else "none"
        out.append(
            f"there is only one group ({only!r}): differences between groups need at least two; "
            "choose another group column"
        )
    conf = cells.confusion(0)
    everywhere = rate_stack(conf)
    for k, metric in enumerate(RATE_METRICS):
        if cells.n_groups and not np.isfinite(everywhere[:, k]).any():
            reason = undefined_reason(metric, conf.sum(axis=0)) or "its denominator is 0"
            out.append(
                f"{metric} is undefined in every group ({reason}): it is reported as undefined; "
                "check the threshold or the label column"
            )
    for g, name in enumerate(cells.group_names):
        n = int(conf[g].sum())
        positives, negatives = int(conf[g, 1].sum()), int(conf[g, 0].sum())
        if n < _SMALL_GROUP:
            out.append(f"group {name!r} has only {n} rows: its rates are very uncertain")
        elif positives < _SMALL_CLASS or negatives < _SMALL_CLASS:
            out.append(
                f"group {name!r} has {positives} positives and {negatives} negatives: its TPR/FPR "
                "are very uncertain"
            )
        if positives == 0:
            out.append(f"group {name!r} has no positives: its TPR and FNR are undefined")
        if negatives == 0:
            out.append(f"group {name!r} has no negatives: its FPR and TNR are undefined")
    return out


def _resample_warnings(report: FairnessReport) -> list[str]:
    """Cautions about the bootstrap: rates undefined in some resamples, Wilson intervals, gaps."""
    out = []
    block = report.nan_fraction["m0.rates"]
    for g, name in enumerate(report.group_names):
        for k, metric in enumerate(RATE_METRICS):
            share = float(block[g, k])
            replaced = "m0.rates" in report.wilson and report.wilson["m0.rates"][g, k]
            if 0 < share and np.isfinite(report.blocks["m0.rates"][g, k]) and not replaced:
                shown = f"{share:.1%}" if share >= 0.001 else "under 0.1%"
                out.append(
                    f"{metric} of {name!r} is undefined in {shown} of resamples (too few rows "
                    "in its denominator); its interval uses the others"
                )
    if "m0.rates" in report.wilson and report.wilson["m0.rates"].any():
        out.append(
            f"intervals marked Wilson are score intervals: their rate has fewer than "
            f"{SMALL_DENOMINATOR} rows in its denominator or its resamples all agree, where a "
            "bootstrap interval would be too narrow"
        )
    if report.cells.n_groups >= 2 and report.layout.between:
        out.append(
            "max - min gaps are never negative, so their intervals lean upwards and rarely "
            "cover 0 even when groups are equal: judge parity by the signed differences"
        )
    return out


def evaluate_fairness(
    pred: Predictions,
    *,
    resamples: int = 0,
    confidence: float = 0.95,
    methods: Sequence[str] = ("bca", "percentile"),
    seed: int | None = 0,
    reference: str | None = None,
    stratify: bool = False,
    between: bool = True,
    progress: ProgressCallback | None = None,
) -> FairnessReport:
    """Per-group metrics and fairness criteria of one or two models; ``resamples`` > 0 adds intervals.

    ``reference`` names the group others are compared with (default: the largest).
    ``stratify`` keeps each group's size fixed when resampling (default: rows are
    resampled freely, as scipy and fairlearn do). ``between=False`` leaves out the
    comparisons between groups (per-group rates and A - B only).
    """
    cells = build_cells(pred)
    if cells.n_rows == 0:
        raise BootstrapError("there are no rows to evaluate")
    layout = Layout(
        n_groups=cells.n_groups,
        n_models=cells.n_models,
        reference=_reference_index(cells, reference),
        between=between,
    )
    statistic = fairness_statistic(layout)
    estimate = statistic(cells.counts)
    report = FairnessReport(
        cells=cells,
        layout=layout,
        blocks=layout.split(estimate),
        warnings=_warnings(cells),
        source=pred.source,
        group_columns=list(pred.group_columns),
        thresholds=list(pred.thresholds),
    )
    if resamples:
        result = bootstrap_counts(
            cells.counts,
            statistic,
            resamples=resamples,
            confidence=confidence,
            methods=methods,
            seed=seed,
            stratify_axes=1 if stratify else 0,
            keep_distribution=cells.n_models == 2,
            progress=progress,
        )
        report.resamples, report.confidence, report.seed = resamples, confidence, seed
        report.stratified = stratify
        _add_intervals(report, result, estimate)
    return report


def _reference_index(cells: CellTable, reference: str | None) -> int:
    """The group the others are compared with: the one named, or the largest."""
    if reference is None:
        sizes = cells.counts.reshape(cells.n_groups, -1).sum(axis=1)
        return int(np.argmax(sizes))
    if reference in cells.group_names:
        return cells.group_names.index(reference)
    raise BootstrapError(
        f"reference group {reference!r} is not a group: choose one of {', '.join(cells.group_names)}"
    )


def _add_intervals(report: FairnessReport, result: BootstrapResult, estimate: np.ndarray) -> None:
    """Put a bootstrap's intervals, undefined shares and (two models) p-values in the report."""
    layout = report.layout
    report.intervals = {
        m: {name: np.moveaxis(block, 0, -1) for name, block in layout.split(v.T).items()}
        for m, v in result.intervals.items()
    }
    report.nan_fraction = layout.split(result.nan_fraction)
    if result.distribution is not None:
        report.p_values = {
            name: block
            for name, block in layout.split(
                paired_p_values(estimate, result.distribution, report.cells.n_rows)
            ).items()
            if name.startswith("delta.")
        }
    _use_wilson_where_counts_are_small(report)
    report.warnings.extend(_resample_warnings(report))


def _use_wilson_where_counts_are_small(report: FairnessReport) -> None:
    """Replace degenerate or small-denominator bootstrap intervals of per-group rates.

    See :mod:`backends.evaluate.small_counts`. The same cells are replaced for every
    interval method so the table, the JSON and the report agree on which they are.
    """
    for model in range(report.cells.n_models):
        conf = report.cells.confusion(model)
        conf = np.concatenate([conf, conf.sum(axis=0, keepdims=True)], axis=0)
        numerator, denominator = rate_counts(conf)
        name = f"m{model}.rates"
        estimate = report.blocks[name]
        mask = np.zeros(estimate.shape, dtype=bool)
        for method in report.methods:
            mask |= needs_wilson(estimate, report.intervals[method][name], denominator)
        wilson = wilson_interval(numerator, denominator, report.confidence)
        for method in report.methods:
            report.intervals[method][name][mask] = wilson[mask]
        report.wilson[name] = mask
