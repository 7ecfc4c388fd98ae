"""The self-contained HTML evaluation report: provenance, tables, criteria, tests, thresholds, plots.

:func:`write_html_report` writes one file a reader can open anywhere: every table
and note of the evaluation view, the paired test with McNemar's cross-check, the
post-processing rules, and the view's plots embedded as PNG images.
"""

from __future__ import annotations

import base64
import html
import math
import os
import shlex
from pathlib import Path

from backends.evaluate.analysis import Analysis
from backends.evaluate.cells import OVERALL
from backends.evaluate.fairness_json import criteria_dict
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.metrics import METRIC_DESCRIPTIONS, RATE_METRICS
from backends.evaluate.paired import PairedTest
from backends.evaluate.thresholds import CONSTRAINT_NAMES, ThresholdSolution

_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
    "td:first-child{text-align:left}.note{color:#8a4b00}</style></head><body>"
)


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
    parts = _heading_html(analysis, version)
    for model in range(fairness.cells.n_models):
        parts.append(_rates_html(fairness, model))
        parts.append(_criteria_html(fairness, model))
        parts.append(_confusion_html(fairness, model))
    if paired is not None:
        parts += _paired_html(paired)
    if solution is not None:
        parts += _solution_html(solution)
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


def esc(text: str) -> str:
    """Text made safe inside HTML (and inside single-quoted attributes)."""
    return html.escape(text)


def _heading_html(analysis: Analysis, version: str) -> list[str]:
    """The title, the data in one line, provenance, and how the intervals were made."""
    fairness = analysis.report
    method = fairness.methods[0] if fairness.methods else None
    pred = analysis.predictions
    thresholds = ", ".join(
        f"{name}: {'labels given' if t is None else f'score >= {t:g}'}"
        for name, t in zip(fairness.model_names, fairness.thresholds or [None] * 2, strict=False)
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>",
        _STYLE,
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
    return parts


def _rates_html(fairness: FairnessReport, model: int) -> str:
    """One model's table of rates per group, with intervals (Wilson ones marked *)."""
    parts = [f"<h2>{esc(fairness.model_names[model])}</h2><table><tr><th>group</th><th>count</th>"]
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
    return "\n".join(parts)


def _paired_html(paired: PairedTest) -> list[str]:
    """The paired test and, for accuracy, the exact McNemar cross-check."""
    parts = [f"<h2>Paired test: {esc(paired.description)}</h2><p>{esc(paired.explanation)}</p>"]
    if paired.mcnemar_p is not None and paired.discordant is not None:
        a_only, b_only = paired.discordant
        parts.append(
            f"<p>Exact McNemar test (two-sided, cross-check): {a_only} rows only "
            f"{esc(paired.model_names[0])} got right, {b_only} only "
            f"{esc(paired.model_names[1])}; p = {paired.mcnemar_p:.4f}.</p>"
        )
    return parts


def _solution_html(solution: ThresholdSolution) -> list[str]:
    """The post-processing rules per group and the accuracy they cost."""
    parts = [
        f"<h2>Post-processing thresholds: {esc(CONSTRAINT_NAMES.get(solution.constraint, solution.constraint))}</h2><p>accuracy {solution.accuracy:.4f} against "
        f"{solution.baseline_accuracy:.4f} for the best single threshold</p><ul>"
    ]
    parts += [
        f"<li>{esc(g)}: {esc(r)}</li>"
        for g, r in zip(solution.group_names, solution.rules, strict=True)
    ]
    parts.append("</ul>")
    return parts




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
    crit = criteria_dict(fairness, model)

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
