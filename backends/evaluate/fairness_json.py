"""The fairness report as a JSON-ready dictionary: what ``workbench eval`` prints and saves.

Undefined values are null; intervals are ``{method: [low, high]}``. The same
dictionaries feed the HTML report's list of criteria (:func:`criteria_dict`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from backends.evaluate.cells import OVERALL
from backends.evaluate.fairness_statistics import block_prefix
from backends.evaluate.metrics import RATE_METRICS
from backends.evaluate.small_counts import SMALL_DENOMINATOR, WILSON

if TYPE_CHECKING:
    from backends.evaluate.fairness_report import FairnessReport


def json_number(value: float) -> float | None:
    """A float for JSON: None where undefined."""
    value = float(value)
    return value if math.isfinite(value) else None


def report_dict(report: FairnessReport) -> dict[str, Any]:
    """A JSON-ready dictionary of everything in the report (undefined values are null)."""
    out: dict[str, Any] = {
        "source": report.source,
        "rows": report.cells.n_rows,
        "group_columns": report.group_columns,
        "group_names": report.group_names,
        "reference_group": report.reference_group,
        "models": report.model_names,
        "bootstrap": None,
    }
    if report.resamples:
        out["bootstrap"] = {
            "resamples": report.resamples,
            "confidence": report.confidence,
            "methods": report.methods,
            "seed": report.seed,
            "resampling": "groups fixed" if report.stratified else "rows",
            "small_counts": (
                f"a rate with fewer than {SMALL_DENOMINATOR} rows in its denominator, or whose "
                "resamples all agree, gets a Wilson score interval instead of a bootstrap one "
                '(interval_method "wilson")'
            ),
        }
    out.update(model_dict(report, 0))
    if report.cells.n_models == 2:
        out["model_b"] = model_dict(report, 1)
        out["difference_a_minus_b"] = model_dict(report, "delta")
    out["warnings"] = list(report.warnings)
    return out


def _ci(report: FairnessReport, block: str, *where: int) -> dict[str, list[float | None]]:
    return {
        m: [json_number(v) for v in report.intervals[m][block][where]] for m in report.methods
    }


def model_dict(report: FairnessReport, model: int | str) -> dict[str, Any]:
    """One model's (or ``"delta"``'s) groups, overall, between-group comparisons and criteria."""
    groups: dict[str, dict[str, Any]] = {}
    overall: dict[str, Any] = {}
    for row, name in enumerate([*report.group_names, OVERALL]):
        entry = _group_entry(report, model, row)
        if row == report.cells.n_groups:
            overall = entry
        else:
            groups[name] = entry
    out: dict[str, Any] = {"groups": groups, "overall": overall}
    if report.layout.between:
        out["between_groups"] = _between_groups(report, model)
        out["criteria"] = criteria_dict(report, model)
    if model != "delta":
        out["name"] = report.model_names[int(model)]
        if int(model) < len(report.thresholds) and report.thresholds[int(model)] is not None:
            out["threshold"] = report.thresholds[int(model)]
    return out


def _group_entry(report: FairnessReport, model: int | str, row: int) -> dict[str, Any]:
    """Count, rates, why any is undefined, confusion counts, intervals and p-values of one row."""
    prefix = block_prefix(model)
    entry: dict[str, Any] = {"count": report.count(row)}
    for k, metric in enumerate(RATE_METRICS):
        entry[metric] = json_number(report.blocks[f"{prefix}.rates"][row, k])
    undefined = {
        metric: report.undefined(model, metric, row)
        for metric in RATE_METRICS
        if report.undefined(model, metric, row)
    }
    if undefined:
        entry["undefined"] = undefined
    if model != "delta":
        tn, fp, fn, tp = (int(v) for v in report.confusion(int(model), row).ravel())
        entry["confusion"] = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    if report.intervals:
        entry.update(_row_intervals(report, prefix, row))
    if model == "delta" and report.p_values:
        entry["p_value"] = {
            metric: json_number(report.p_values["delta.rates"][row, k])
            for k, metric in enumerate(RATE_METRICS)
        }
    return entry


def _row_intervals(report: FairnessReport, prefix: str, row: int) -> dict[str, Any]:
    """A row's intervals by method, how each was formed, and where resamples left it undefined."""
    mask = report.wilson.get(f"{prefix}.rates")
    nan_fraction = report.nan_fraction[f"{prefix}.rates"]
    return {
        "ci": {
            m: {
                metric: [json_number(v) for v in report.intervals[m][f"{prefix}.rates"][row, k]]
                for k, metric in enumerate(RATE_METRICS)
            }
            for m in report.methods
        },
        "interval_method": {
            metric: (WILSON if mask is not None and mask[row, k] else "bootstrap")
            for k, metric in enumerate(RATE_METRICS)
        },
        "undefined_in_resamples": {
            metric: round(float(nan_fraction[row, k]), 4)
            for k, metric in enumerate(RATE_METRICS)
            if nan_fraction[row, k] > 0
        },
    }


def _between_groups(report: FairnessReport, model: int | str) -> dict[str, dict[str, Any]]:
    """Per metric: max - min, min / max, each group against the reference, and every pair."""
    prefix = block_prefix(model)
    blocks = report.blocks
    names = report.group_names
    between: dict[str, dict[str, Any]] = {}
    for k, metric in enumerate(RATE_METRICS):
        item: dict[str, Any] = {
            "max_minus_min": json_number(blocks[f"{prefix}.gap"][k]),
            "min_over_max": json_number(blocks[f"{prefix}.ratio"][k]),
            "vs_reference": {
                g: {
                    "difference": json_number(blocks[f"{prefix}.diff_ref"][i, k]),
                    "ratio": json_number(blocks[f"{prefix}.ratio_ref"][i, k]),
                }
                for i, g in enumerate(names)
            },
            "pairs": {
                f"{names[a]} - {names[b]}": json_number(blocks[f"{prefix}.diff"][p, k])
                for p, (a, b) in enumerate(report.layout.pairs)
            },
        }
        if report.intervals:
            item["ci"] = _between_intervals(report, prefix, k)
        between[metric] = item
    return between


def _between_intervals(report: FairnessReport, prefix: str, k: int) -> dict[str, Any]:
    """The intervals of one metric's between-group comparisons, laid out as their values."""
    names = report.group_names
    return {
        "max_minus_min": _ci(report, f"{prefix}.gap", k),
        "min_over_max": _ci(report, f"{prefix}.ratio", k),
        "vs_reference": {
            g: {
                "difference": _ci(report, f"{prefix}.diff_ref", i, k),
                "ratio": _ci(report, f"{prefix}.ratio_ref", i, k),
            }
            for i, g in enumerate(names)
        },
        "pairs": {
            f"{names[a]} - {names[b]}": _ci(report, f"{prefix}.diff", p, k)
            for p, (a, b) in enumerate(report.layout.pairs)
        },
    }


def criteria_dict(report: FairnessReport, model: int | str) -> dict[str, dict[str, Any]]:
    """Independence, separation and sufficiency of one model (or of A - B)."""
    prefix = block_prefix(model)
    gap = report.blocks[f"{prefix}.gap"]
    eo_diff, eo_ratio = report.blocks[f"{prefix}.eo"]
    sel = RATE_METRICS.index("selection_rate")
    criteria: dict[str, dict[str, Any]] = {
        "independence": {
            "demographic_parity_difference": json_number(gap[sel]),
            "demographic_parity_ratio": json_number(report.blocks[f"{prefix}.ratio"][sel]),
        },
        "separation": {
            "tpr_difference": json_number(gap[RATE_METRICS.index("tpr")]),
            "fpr_difference": json_number(gap[RATE_METRICS.index("fpr")]),
            "equalized_odds_difference": json_number(eo_diff),
            "equalized_odds_ratio": json_number(eo_ratio),
        },
        "sufficiency": {
            "ppv_difference": json_number(gap[RATE_METRICS.index("ppv")]),
            "npv_difference": json_number(gap[RATE_METRICS.index("npv")]),
        },
    }
    if model != "delta":
        ratio = report.blocks[f"{prefix}.ratio"][sel]
        criteria["independence"]["passes_80_percent_rule"] = (
            bool(ratio >= 0.8) if np.isfinite(ratio) else None
        )
    if report.intervals:
        criteria["separation"]["equalized_odds_difference_ci"] = _ci(report, f"{prefix}.eo", 0)
    return criteria
