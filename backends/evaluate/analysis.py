"""One evaluation of a set of predictions: what the evaluation view shows at once.

:func:`analyse` bundles the fairness report with bootstrap intervals, and for a
model given as scores its ROC and calibration curves per group and the binned
score table the threshold view works on; calibration curves for every model
given as scores (the view offers a choice between models A and B). :func:`write_csv` and
:func:`write_html_report` export it. Plain values in, plain values out: the GUI,
the command line and the tests call the same functions.
"""

from __future__ import annotations

import base64
import csv
import html
import math
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backends.evaluate.fairness import OVERALL, FairnessReport, evaluate_fairness
from backends.evaluate.metrics import METRIC_DESCRIPTIONS, RATE_METRICS
from backends.evaluate.paired import PairedTest
from backends.evaluate.predictions import Predictions
from backends.evaluate.scores import (
    CONSTRAINT_NAMES,
    CalibrationCurves,
    RocCurves,
    ScoreTable,
    ThresholdSolution,
    apply_group_thresholds,
    build_score_table,
    calibration_curves,
    roc_curves,
)
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
        table = out.score_table if model == 0 else build_score_table(pred, model)
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


def write_html_report(
    path: str | os.PathLike[str],
    analysis: Analysis,
    *,
    images: dict[str, bytes] | None = None,
    paired: PairedTest | None = None,
    solution: ThresholdSolution | None = None,
    version: str = "",
) -> Path:
    """A self-contained HTML report: provenance, tables, criteria, 2x2 tables, thresholds,
    the paired test with McNemar's cross-check, and plots given as PNG bytes."""
    fairness = analysis.report
    esc = html.escape
    method = fairness.methods[0] if fairness.methods else None
    pred = analysis.predictions
    thresholds = ", ".join(
        f"{name}: {'labels given' if t is None else f'score >= {t:g}'}"
        for name, t in zip(fairness.model_names, fairness.thresholds or [None] * 2, strict=False)
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
        "td:first-child{text-align:left}.note{color:#8a4b00}</style></head><body>",
        f"<h1>Evaluation report</h1><p>{esc(fairness.source or 'predictions')}: "
        f"{fairness.cells.n_rows:,} rows; groups by {esc(', '.join(fairness.group_columns))}; "
        f"reference group {esc(fairness.reference_group)}.</p>",
    ]
    parts.append(
        "<h2>Provenance</h2><ul>"
        f"<li>data: {esc(fairness.source or 'predictions')}; label column "
        f"{esc(pred.label_column)}; groups {esc(', '.join(fairness.group_columns))}</li>"
        f"<li>thresholds: {esc(thresholds)}</li>"
        f"<li>bootstrap: {fairness.resamples:,} resamples, seed {fairness.seed}, "
        f"{fairness.confidence:.0%} intervals</li>"
        f"<li>made by workbench {esc(version or 'unknown version')}; reproduce with "
        f"<code>{esc(reproduce_command(analysis))}</code></li></ul>"
    )
    if fairness.resamples:
        parts.append(
            f"<p>Intervals: {fairness.confidence:.0%} {esc(method or '')}, {fairness.resamples:,} bootstrap "
            "resamples of the rows (drawn as multinomial counts per cell). Marked * : Wilson score "
            "intervals, used where a rate has few rows in its denominator or its resamples all "
            "agree.</p>"
        )
    for model in range(fairness.cells.n_models):
        parts.append(
            f"<h2>{esc(fairness.model_names[model])}</h2><table><tr><th>group</th><th>count</th>"
        )
        parts += [f"<th title='{esc(METRIC_DESCRIPTIONS[m])}'>{esc(m)}</th>" for m in RATE_METRICS]
        parts.append("</tr>")
        for group in [*fairness.group_names, OVERALL]:
            parts.append(f"<tr><td>{esc(group)}</td><td>{fairness.count(group):,}</td>")
            for metric in RATE_METRICS:
                value = fairness.value(model, metric, group)
                if not math.isfinite(value):
                    reason = fairness.undefined(model, metric, group) or "undefined"
                    parts.append(f"<td title='{esc(reason)}'>undefined</td>")
                    continue
                interval = fairness.interval(model, metric, group)
                wilson = fairness.interval_method(model, metric, group) == "wilson"
                extra = (
                    f"<br><small>[{interval[0]:.3f}, {interval[1]:.3f}]{'*' if wilson else ''}</small>"
                    if interval and math.isfinite(interval[0])
                    else ""
                )
                parts.append(f"<td>{value:.3f}{extra}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        parts.append(_criteria_html(fairness, model))
        parts.append(_confusion_html(fairness, model))
    if paired is not None:
        parts.append(
            f"<h2>Paired test: {esc(paired.description)}</h2><p>{esc(paired.explanation)}</p>"
        )
        if paired.mcnemar_p is not None and paired.discordant is not None:
            a_only, b_only = paired.discordant
            parts.append(
                f"<p>Exact McNemar test (two-sided, cross-check): {a_only} rows only "
                f"{esc(paired.model_names[0])} got right, {b_only} only "
                f"{esc(paired.model_names[1])}; p = {paired.mcnemar_p:.4f}.</p>"
            )
    if solution is not None:
        parts.append(
            f"<h2>Post-processing thresholds: {esc(CONSTRAINT_NAMES.get(solution.constraint, solution.constraint))}</h2><p>accuracy {solution.accuracy:.4f} against "
            f"{solution.baseline_accuracy:.4f} for the best single threshold</p><ul>"
        )
        parts += [
            f"<li>{esc(g)}: {esc(r)}</li>"
            for g, r in zip(solution.group_names, solution.rules, strict=True)
        ]
        parts.append("</ul>")
    for title, png in (images or {}).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{data}'>"
        )
    if fairness.warnings:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li class='note'>{esc(w)}</li>" for w in fairness.warnings]
        parts.append("</ul>")
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def reproduce_command(analysis: Analysis) -> str:
    """The ``workbench eval fairness`` line that recomputes this analysis's tables."""
    fairness, pred = analysis.report, analysis.predictions
    groups = " ".join(f"--group {shlex.quote(g)}" for g in fairness.group_columns)
    tail = f"{groups} --bootstrap {fairness.resamples} --seed {fairness.seed}"
    for demo, prefix in (("compas", "COMPAS demo"), ("adult", "UCI Adult demo")):
        if fairness.source.startswith(prefix):
            return f"workbench eval fairness --demo {demo} {tail}"
    model = fairness.model_names[0]
    if pred.scores and pred.scores[0] is not None:
        column = f"--score {shlex.quote(model)} --threshold {pred.thresholds[0]:g}"
    else:
        column = f"--pred {shlex.quote(model)}"
    return (
        f"workbench eval fairness {shlex.quote(fairness.source)} --label "
        f"{shlex.quote(pred.label_column)} {column} {tail}"
    )


def _criteria_html(fairness: FairnessReport, model: int) -> str:
    """Independence, separation and sufficiency of one model, as a short list."""
    if fairness.cells.n_groups < 2 or not fairness.layout.between:
        return "<p>Criteria: one group only; between-group criteria need at least two.</p>"
    crit = fairness._model_dict(model)["criteria"]

    def num(v: float | None) -> str:
        return "undefined" if v is None else f"{v:.3f}"

    ind, sep, suf = crit["independence"], crit["separation"], crit["sufficiency"]
    rule = ind.get("passes_80_percent_rule")
    verdict = "undefined" if rule is None else ("passes" if rule else "fails")
    return (
        "<h3>Fairness criteria</h3><ul>"
        f"<li>independence: selection-rate gap {num(ind['demographic_parity_difference'])}, "
        f"ratio {num(ind['demographic_parity_ratio'])} ({verdict} the 80 % rule)</li>"
        f"<li>separation: TPR gap {num(sep['tpr_difference'])}, FPR gap "
        f"{num(sep['fpr_difference'])}, equalised odds {num(sep['equalized_odds_difference'])}</li>"
        f"<li>sufficiency: PPV gap {num(suf['ppv_difference'])}, NPV gap "
        f"{num(suf['npv_difference'])}</li></ul>"
    )


def _confusion_html(fairness: FairnessReport, model: int) -> str:
    """Each group's 2x2 table (prediction by outcome), as ProPublica laid them out."""
    esc = html.escape
    labels, predictions = fairness.cells.label_names, fairness.cells.prediction_names
    parts = ["<h3>2 x 2 tables</h3><table><tr><th>group</th>"]
    parts += [
        f"<th>{esc(p)}, {esc(y)}</th>" for p in predictions for y in labels
    ]
    parts.append("</tr>")
    for group in [*fairness.group_names, OVERALL]:
        conf = fairness.confusion(model, group)
        cells = [int(conf[y, p]) for p in (0, 1) for y in (0, 1)]
        parts.append(
            f"<tr><td>{esc(group)}</td>" + "".join(f"<td>{c:,}</td>" for c in cells) + "</tr>"
        )
    parts.append("</table>")
    return "".join(parts)


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
