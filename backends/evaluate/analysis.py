"""One evaluation of a set of predictions: what the evaluation view shows at once.

:func:`analyse` bundles the fairness report with bootstrap intervals, and for a
model given as scores its ROC and calibration curves per group and the binned
score table the threshold view works on; calibration curves for every model
given as scores (the view offers a choice between models A and B).
:func:`evaluate_at_thresholds` re-evaluates at moved thresholds (the slider), and
:func:`write_csv` exports the per-group table (the HTML report is
:mod:`backends.evaluate.report_html`). Plain values in, plain values out: the GUI,
the command line and the tests call the same functions.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backends.evaluate.cells import OVERALL
from backends.evaluate.fairness import evaluate_fairness
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.metrics import RATE_METRICS
from backends.evaluate.predictions import Predictions
from backends.evaluate.scores import (
    CalibrationCurves,
    RocCurves,
    ScoreTable,
    build_score_table,
    calibration_curves,
    roc_curves,
)
from backends.evaluate.thresholds import apply_group_thresholds
from backends.progress import ProgressCallback, report


@dataclass
class Analysis:
    """Everything the view shows for one set of predictions."""

    predictions: Predictions
    report: FairnessReport
    score_table: ScoreTable | None = None
    roc: RocCurves | None = None
    calibration: CalibrationCurves | None = None  # model A's (the first entry below)
    # One entry per model: its calibration curves, None for a model given as labels.
    calibrations: list[CalibrationCurves | None] = field(default_factory=list)


def _scaled(
    progress: ProgressCallback | None, start: float, stop: float
) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda fraction: progress(start + (stop - start) * fraction)


def analyse(
    pred: Predictions,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    methods: Sequence[str] = ("bca", "percentile"),
    seed: int | None = 0,
    reference: str | None = None,
    curve_resamples: int = 500,
    progress: ProgressCallback | None = None,
) -> Analysis:
    """Fairness report with intervals, ROC when model A has scores, calibration per scored model."""
    fairness = evaluate_fairness(
        pred,
        resamples=resamples,
        confidence=confidence,
        methods=methods,
        seed=seed,
        reference=reference,
        progress=_scaled(progress, 0.0, 0.7),
    )
    out = Analysis(predictions=pred, report=fairness)
    if pred.scores and pred.scores[0] is not None:
        out.score_table = build_score_table(pred, 0)
        out.roc = roc_curves(
            out.score_table,
            resamples=curve_resamples,
            confidence=confidence,
            seed=seed,
            progress=_scaled(progress, 0.7, 0.9),
        )
    for model in range(pred.n_models):
        has_scores = model < len(pred.scores) and pred.scores[model] is not None
        if not has_scores:
            out.calibrations.append(None)
            continue
        table = build_score_table(pred, model) if model or out.score_table is None else out.score_table
        out.calibrations.append(
            calibration_curves(table, resamples=curve_resamples, confidence=confidence, seed=seed)
        )
    out.calibration = out.calibrations[0] if out.calibrations else None
    report(progress, 1.0)
    return out


def load_and_analyse(source, *, progress: ProgressCallback | None = None, **options) -> Analysis:
    """Call ``source(progress)`` for predictions (a CSV read, a demo, a checkpoint), then :func:`analyse`."""
    pred = source(_scaled(progress, 0.0, 0.5))
    return analyse(pred, progress=_scaled(progress, 0.5, 1.0), **options)


# ------------------------------------------------------------------ export


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}"


def write_csv(path: str | os.PathLike[str], fairness: FairnessReport) -> Path:
    """Per-group metrics of every model (and A - B) with intervals, one row per group and metric."""
    path = Path(path)
    methods = fairness.methods
    models: list[int | str] = list(range(fairness.cells.n_models)) + (
        ["delta"] if fairness.cells.n_models == 2 else []
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "model",
                "group",
                "metric",
                "value",
                *[f"{m}_{end}" for m in methods for end in ("low", "high")],
                "undefined",
            ]
        )
        for model in models:
            name = "A - B" if model == "delta" else fairness.model_names[int(model)]
            for group in [*fairness.group_names, OVERALL]:
                writer.writerow(
                    [name, group, "count", fairness.count(group), *[""] * (2 * len(methods)), ""]
                )
                for metric in RATE_METRICS:
                    row = [name, group, metric, _cell(fairness.value(model, metric, group))]
                    for method in methods:
                        low, high = fairness.interval(model, metric, group, method) or (None, None)
                        row += [_cell(low), _cell(high)]
                    row.append(fairness.undefined(model, metric, group) or "")
                    writer.writerow(row)
    return path


def evaluate_at_thresholds(
    pred: Predictions,
    thresholds: Sequence[float] | None = None,
    *,
    group_thresholds: Sequence[float] | None = None,
    resamples: int = 500,
    confidence: float = 0.95,
    seed: int | None = 0,
    progress: ProgressCallback | None = None,
) -> FairnessReport:
    """The fairness report after moving the score thresholds (one per model, or per group for A).

    Cheap enough for a slider: cutting scores is one comparison per row and the
    bootstrap costs the same at any number of rows.
    """
    given = list(thresholds or [])
    # Models given as predicted labels keep their labels, as do models given no threshold.
    cuts = [
        given[i] if i < len(given) and i < len(pred.scores) and pred.scores[i] is not None else None
        for i in range(pred.n_models)
    ]
    moved = pred.with_thresholds(cuts)
    if group_thresholds is not None:
        moved = apply_group_thresholds(moved, list(group_thresholds))
    return evaluate_fairness(
        moved,
        resamples=resamples,
        confidence=confidence,
        methods=("percentile",),
        seed=seed,
        progress=progress,
    )
