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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from backends.evaluate.bootstrap import BootstrapError, bootstrap_counts
from backends.evaluate.metrics import RATE_METRICS, min_max_ratio, rate_stack, undefined_reason
from backends.evaluate.metrics import gap as max_min_gap
from backends.evaluate.predictions import Predictions
from backends.evaluate.small_counts import (
    SMALL_DENOMINATOR,
    WILSON,
    needs_wilson,
    rate_counts,
    wilson_interval,
)
from backends.progress import ProgressCallback

#: The name used for all rows together in per-group tables.
OVERALL = "overall"
# A group smaller than this, or with fewer positives/negatives than _SMALL_CLASS,
# gets a warning: its rates swing widely between test sets.
_SMALL_GROUP = 30
_SMALL_CLASS = 10


@dataclass
class CellTable:
    """Counts per cell: ``[group, true label, prediction A]`` or ``[..., prediction B]``."""

    counts: np.ndarray
    group_names: list[str]
    model_names: list[str]
    label_names: tuple[str, str] = ("label 0", "label 1")
    prediction_names: tuple[str, str] = ("predicted 0", "predicted 1")

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.model_names)

    @property
    def n_rows(self) -> int:
        return int(self.counts.sum())

    def confusion(self, model: int = 0) -> np.ndarray:
        """Confusion counts ``[group, true label, prediction]`` of one model."""
        return model_confusions(self.counts, self.n_models)[model]


def build_cells(pred: Predictions) -> CellTable:
    """Tabulate predictions into a :class:`CellTable` with one ``bincount``."""
    n_groups = len(pred.group_names)
    cell = pred.group.astype(np.int64) * 2 + pred.label.astype(np.int64)
    for p in pred.pred:
        cell = cell * 2 + p.astype(np.int64)
    shape = (n_groups, 2) + (2,) * pred.n_models
    counts = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape)
    return CellTable(
        counts=counts,
        group_names=list(pred.group_names),
        model_names=list(pred.model_names),
        label_names=pred.label_names,
        prediction_names=pred.prediction_names,
    )


def model_confusions(counts: np.ndarray, n_models: int) -> list[np.ndarray]:
    """Each model's confusion counts ``[..., group, label, prediction]`` from a cell table."""
    if n_models == 1:
        return [counts]
    return [counts.sum(axis=-1), counts.sum(axis=-2)]


# ------------------------------------------------------------------ the statistics


@dataclass(frozen=True)
class Layout:
    """Where each block of statistics sits in the flat vector the bootstrap works on.

    Blocks per model ``i`` (``M`` = number of rate metrics, ``G`` = groups, ``P`` =
    pairs of groups): ``m{i}.rates [G+1, M]`` (groups, then overall),
    ``m{i}.diff [P, M]`` (group a minus group b for each pair a < b),
    ``m{i}.diff_ref [G, M]`` and ``m{i}.ratio_ref [G, M]`` (each group against the
    reference group), ``m{i}.gap [M]`` (max - min over groups), ``m{i}.ratio [M]``
    (min / max), ``m{i}.eo [2]`` (equalised-odds difference and ratio). With two
    models the same blocks again under ``delta.`` hold model A minus model B.
    """

    n_groups: int
    n_models: int
    reference: int
    # False keeps only the per-group rates (and A - B): the cheapest paired comparison.
    between: bool = True

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return list(combinations(range(self.n_groups), 2))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        g, m, p = self.n_groups, len(RATE_METRICS), len(self.pairs)
        per_model = {
            "rates": (g + 1, m),
            "diff": (p, m),
            "diff_ref": (g, m),
            "ratio_ref": (g, m),
            "gap": (m,),
            "ratio": (m,),
            "eo": (2,),
        }
        if not self.between:
            per_model = {"rates": (g + 1, m)}
        out: dict[str, tuple[int, ...]] = {}
        prefixes = [f"m{i}" for i in range(self.n_models)]
        if self.n_models == 2:
            prefixes.append("delta")
        for prefix in prefixes:
            for name, shape in per_model.items():
                out[f"{prefix}.{name}"] = shape
        return out

    def offsets(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        start = 0
        for name, shape in self.shapes().items():
            size = int(np.prod(shape))
            out[name] = (start, start + size)
            start += size
        return out

    @property
    def size(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes().values())

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Blocks of a ``[..., size]`` array, each reshaped to ``[..., *shape]``."""
        shapes = self.shapes()
        lead = flat.shape[:-1]
        return {
            name: flat[..., a:b].reshape(lead + shapes[name])
            for name, (a, b) in self.offsets().items()
        }

    def index(self, block: str, *where: int) -> int:
        """The flat position of one statistic, e.g. ``index("m0.rates", group, metric)``."""
        start, _ = self.offsets()[block]
        return start + int(np.ravel_multi_index(where, self.shapes()[block]))


def _model_blocks(
    confusion: np.ndarray, reference: int, pairs: list[tuple[int, int]], between: bool = True
) -> dict:
    """The statistics of one model from its confusion counts ``[..., G, 2, 2]``."""
    per_group = rate_stack(confusion)  # [..., G, M]
    overall = rate_stack(confusion.sum(axis=-3))  # [..., M]
    rates = np.concatenate([per_group, overall[..., None, :]], axis=-2)
    if not between:
        return {"rates": rates}
    if pairs:
        a = np.array([i for i, _ in pairs])
        b = np.array([j for _, j in pairs])
        diff = per_group[..., a, :] - per_group[..., b, :]
    else:
        diff = per_group[..., :0, :]
    ref = per_group[..., reference : reference + 1, :]
    diff_ref = per_group - ref
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_ref = np.where(ref != 0, per_group / np.where(ref != 0, ref, 1.0), np.nan)
    gaps = max_min_gap(per_group, axis=-2)
    ratios = min_max_ratio(per_group, axis=-2)
    tpr, fpr = RATE_METRICS.index("tpr"), RATE_METRICS.index("fpr")
    eo = np.stack(
        [
            np.maximum(gaps[..., tpr], gaps[..., fpr]),
            np.minimum(ratios[..., tpr], ratios[..., fpr]),
        ],
        axis=-1,
    )
    return {
        "rates": rates,
        "diff": diff,
        "diff_ref": diff_ref,
        "ratio_ref": ratio_ref,
        "gap": gaps,
        "ratio": ratios,
        "eo": eo,
    }


def fairness_statistic(layout: Layout):
    """The function from cell tables ``[..., *cells]`` to all statistics ``[..., size]``."""
    pairs = layout.pairs

    def statistic(counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.float64)
        lead = counts.shape[: counts.ndim - (2 + layout.n_models)]
        parts = []
        per_model = []
        for conf in model_confusions(counts, layout.n_models):
            blocks = _model_blocks(conf, layout.reference, pairs, layout.between)
            per_model.append(blocks)
            parts.extend(v.reshape(lead + (-1,)) for v in blocks.values())
        if layout.n_models == 2:
            for name in per_model[0]:
                parts.append((per_model[0][name] - per_model[1][name]).reshape(lead + (-1,)))
        return np.concatenate(parts, axis=-1)

    return statistic


# ------------------------------------------------------------------ the report


@dataclass
class FairnessReport:
    """Per-group metrics, criteria and (when bootstrapped) intervals for one or two models.

    Read values with :meth:`value`, :meth:`interval` and :meth:`undefined`; export
    with :meth:`to_dict`. ``blocks`` are the estimates by :class:`Layout` block,
    ``intervals[method]`` the same blocks with a trailing (low, high) axis.
    """

    cells: CellTable
    layout: Layout
    blocks: dict[str, np.ndarray]
    intervals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    nan_fraction: dict[str, np.ndarray] = field(default_factory=dict)
    p_values: dict[str, np.ndarray] = field(default_factory=dict)
    resamples: int = 0
    confidence: float = 0.95
    seed: int | None = None
    stratified: bool = False
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    group_columns: list[str] = field(default_factory=list)
    thresholds: list[float | None] = field(default_factory=list)
    # Per ``m{i}.rates`` block, where the bootstrap interval was replaced by a Wilson
    # score interval (small denominator or a degenerate bootstrap interval).
    wilson: dict[str, np.ndarray] = field(default_factory=dict)

    # -- naming

    @property
    def group_names(self) -> list[str]:
        return self.cells.group_names

    @property
    def model_names(self) -> list[str]:
        return self.cells.model_names

    @property
    def reference_group(self) -> str:
        return self.group_names[self.layout.reference]

    @property
    def methods(self) -> list[str]:
        return list(self.intervals)

    def _group_row(self, group: str | int) -> int:
        if isinstance(group, int):
            return group
        if group == OVERALL:
            return self.cells.n_groups
        return self.group_names.index(group)

    def _prefix(self, model: int | str) -> str:
        return "delta" if model == "delta" else f"m{int(model)}"

    def _interval_block(self, model: int | str, kind: str, method: str | None) -> np.ndarray | None:
        """One block of intervals (default: the first method's), or None without a bootstrap."""
        if not self.intervals:
            return None
        return self.intervals[method or self.methods[0]][f"{self._prefix(model)}.{kind}"]

    # -- values

    def value(self, model: int | str, metric: str, group: str | int = OVERALL) -> float:
        """A rate of one model (or ``"delta"``: A minus B) in a group or overall; NaN if undefined."""
        if metric == "count":
            return float(self.count(group))
        block = self.blocks[f"{self._prefix(model)}.rates"]
        return float(block[self._group_row(group), RATE_METRICS.index(metric)])

    def interval(
        self, model: int | str, metric: str, group: str | int = OVERALL, method: str | None = None
    ) -> tuple[float, float] | None:
        """The bootstrap interval of :meth:`value`, or None without a bootstrap."""
        block = self._interval_block(model, "rates", method)
        if block is None or metric == "count":
            return None
        low, high = block[self._group_row(group), RATE_METRICS.index(metric)]
        return float(low), float(high)

    def interval_method(
        self, model: int | str, metric: str, group: str | int = OVERALL, method: str | None = None
    ) -> str | None:
        """How :meth:`interval` was formed: ``"wilson"`` or the bootstrap method; None without one."""
        if not self.intervals or metric == "count":
            return None
        mask = self.wilson.get(f"{self._prefix(model)}.rates")
        if mask is not None and mask[self._group_row(group), RATE_METRICS.index(metric)]:
            return WILSON
        return method or self.methods[0]

    def count(self, group: str | int = OVERALL) -> int:
        row = self._group_row(group)
        per_group = self.cells.counts.reshape(self.cells.n_groups, -1).sum(axis=1)
        return int(per_group.sum() if row == self.cells.n_groups else per_group[row])

    def confusion(self, model: int, group: str | int = OVERALL) -> np.ndarray:
        """Confusion counts ``[true label, prediction]`` of one model in a group or overall."""
        conf = self.cells.confusion(model)
        row = self._group_row(group)
        return conf.sum(axis=0) if row == self.cells.n_groups else conf[row]

    def undefined(self, model: int | str, metric: str, group: str | int = OVERALL) -> str | None:
        """Why a rate is undefined (None if it is defined), in words for the user."""
        if metric == "count" or np.isfinite(self.value(model, metric, group)):
            return None
        row = self._group_row(group)
        name = OVERALL if row == self.cells.n_groups else self.group_names[row]
        models = [0, 1] if model == "delta" else [int(model)]
        for m in models:
            conf = self.confusion(m, group)
            reason = undefined_reason(metric, conf)
            if reason:
                who = (
                    f"{self.model_names[m]}: "
                    if model == "delta" or self.cells.n_models > 1
                    else ""
                )
                return f"{metric.upper() if len(metric) == 3 else metric} is undefined for {name}: {who}{reason}"
        return f"{metric} is undefined for {name}"

    def gap(self, model: int | str, metric: str, kind: str = "gap") -> float:
        """Between-group summary of a metric: ``gap`` (max - min) or ``ratio`` (min / max)."""
        return float(self.blocks[f"{self._prefix(model)}.{kind}"][RATE_METRICS.index(metric)])

    def gap_interval(
        self, model: int | str, metric: str, kind: str = "gap", method: str | None = None
    ) -> tuple[float, float] | None:
        block = self._interval_block(model, kind, method)
        if block is None:
            return None
        low, high = block[RATE_METRICS.index(metric)]
        return float(low), float(high)

    def versus_reference(self, model: int | str, metric: str, kind: str = "diff_ref") -> np.ndarray:
        """Each group's difference from (``diff_ref``) or ratio to (``ratio_ref``) the reference."""
        return self.blocks[f"{self._prefix(model)}.{kind}"][:, RATE_METRICS.index(metric)]

    def versus_reference_intervals(
        self, model: int | str, metric: str, kind: str = "diff_ref", method: str | None = None
    ) -> np.ndarray | None:
        block = self._interval_block(model, kind, method)
        return None if block is None else block[:, RATE_METRICS.index(metric), :]

    def equalized_odds(self, model: int | str = 0) -> tuple[float, float]:
        """(difference, ratio): the worse of the TPR and FPR gaps, as fairlearn defines them."""
        diff, ratio = self.blocks[f"{self._prefix(model)}.eo"]
        return float(diff), float(ratio)

    # -- export

    def _ci(self, block: str, *where: int) -> dict[str, list[float | None]]:
        return {m: [json_number(v) for v in self.intervals[m][block][where]] for m in self.methods}

    def _model_dict(self, model: int | str) -> dict:
        prefix = self._prefix(model)
        groups: dict[str, dict] = {}
        for row, name in enumerate([*self.group_names, OVERALL]):
            entry: dict = {"count": self.count(row)}
            for k, metric in enumerate(RATE_METRICS):
                entry[metric] = json_number(self.blocks[f"{prefix}.rates"][row, k])
            undefined = {
                metric: self.undefined(model, metric, row)
                for metric in RATE_METRICS
                if self.undefined(model, metric, row)
            }
            if undefined:
                entry["undefined"] = undefined
            if model != "delta":
                tn, fp, fn, tp = (int(v) for v in self.confusion(int(model), row).ravel())
                entry["confusion"] = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
            if self.intervals:
                entry["ci"] = {
                    m: {
                        metric: [
                            json_number(v) for v in self.intervals[m][f"{prefix}.rates"][row, k]
                        ]
                        for k, metric in enumerate(RATE_METRICS)
                    }
                    for m in self.methods
                }
                mask = self.wilson.get(f"{prefix}.rates")
                entry["interval_method"] = {
                    metric: (WILSON if mask is not None and mask[row, k] else "bootstrap")
                    for k, metric in enumerate(RATE_METRICS)
                }
                entry["undefined_in_resamples"] = {
                    metric: round(float(self.nan_fraction[f"{prefix}.rates"][row, k]), 4)
                    for k, metric in enumerate(RATE_METRICS)
                    if self.nan_fraction[f"{prefix}.rates"][row, k] > 0
                }
            if model == "delta" and self.p_values:
                entry["p_value"] = {
                    metric: json_number(self.p_values["delta.rates"][row, k])
                    for k, metric in enumerate(RATE_METRICS)
                }
            if row == self.cells.n_groups:
                overall = entry
            else:
                groups[name] = entry
        out = {"groups": groups, "overall": overall}
        if self.layout.between:
            out["between_groups"], out["criteria"] = self._between_dicts(model)
        if model != "delta":
            out["name"] = self.model_names[int(model)]
            if int(model) < len(self.thresholds) and self.thresholds[int(model)] is not None:
                out["threshold"] = self.thresholds[int(model)]
        return out

    def _between_dicts(self, model: int | str) -> tuple[dict, dict]:
        """The between-group comparisons of one model, and the three criteria."""
        prefix = self._prefix(model)
        between: dict[str, dict] = {}
        for k, metric in enumerate(RATE_METRICS):
            item: dict = {
                "max_minus_min": json_number(self.blocks[f"{prefix}.gap"][k]),
                "min_over_max": json_number(self.blocks[f"{prefix}.ratio"][k]),
                "vs_reference": {
                    g: {
                        "difference": json_number(self.blocks[f"{prefix}.diff_ref"][i, k]),
                        "ratio": json_number(self.blocks[f"{prefix}.ratio_ref"][i, k]),
                    }
                    for i, g in enumerate(self.group_names)
                },
                "pairs": {
                    f"{self.group_names[a]} - {self.group_names[b]}": json_number(
                        self.blocks[f"{prefix}.diff"][p, k]
                    )
                    for p, (a, b) in enumerate(self.layout.pairs)
                },
            }
            if self.intervals:
                item["ci"] = {
                    "max_minus_min": self._ci(f"{prefix}.gap", k),
                    "min_over_max": self._ci(f"{prefix}.ratio", k),
                    "vs_reference": {
                        g: {
                            "difference": self._ci(f"{prefix}.diff_ref", i, k),
                            "ratio": self._ci(f"{prefix}.ratio_ref", i, k),
                        }
                        for i, g in enumerate(self.group_names)
                    },
                    "pairs": {
                        f"{self.group_names[a]} - {self.group_names[b]}": self._ci(
                            f"{prefix}.diff", p, k
                        )
                        for p, (a, b) in enumerate(self.layout.pairs)
                    },
                }
            between[metric] = item
        eo_diff, eo_ratio = self.blocks[f"{prefix}.eo"]
        sel = RATE_METRICS.index("selection_rate")
        criteria = {
            "independence": {
                "demographic_parity_difference": json_number(self.blocks[f"{prefix}.gap"][sel]),
                "demographic_parity_ratio": json_number(self.blocks[f"{prefix}.ratio"][sel]),
            },
            "separation": {
                "tpr_difference": json_number(
                    self.blocks[f"{prefix}.gap"][RATE_METRICS.index("tpr")]
                ),
                "fpr_difference": json_number(
                    self.blocks[f"{prefix}.gap"][RATE_METRICS.index("fpr")]
                ),
                "equalized_odds_difference": json_number(eo_diff),
                "equalized_odds_ratio": json_number(eo_ratio),
            },
            "sufficiency": {
                "ppv_difference": json_number(
                    self.blocks[f"{prefix}.gap"][RATE_METRICS.index("ppv")]
                ),
                "npv_difference": json_number(
                    self.blocks[f"{prefix}.gap"][RATE_METRICS.index("npv")]
                ),
            },
        }
        if model != "delta":
            ratio = self.blocks[f"{prefix}.ratio"][sel]
            criteria["independence"]["passes_80_percent_rule"] = (
                bool(ratio >= 0.8) if np.isfinite(ratio) else None
            )
        if self.intervals:
            criteria["separation"]["equalized_odds_difference_ci"] = self._ci(f"{prefix}.eo", 0)
        return between, criteria

    def to_dict(self) -> dict:
        """A JSON-ready dictionary of everything in the report (undefined values are null)."""
        out: dict = {
            "source": self.source,
            "rows": self.cells.n_rows,
            "group_columns": self.group_columns,
            "group_names": self.group_names,
            "reference_group": self.reference_group,
            "models": self.model_names,
            "bootstrap": None,
        }
        if self.resamples:
            out["bootstrap"] = {
                "resamples": self.resamples,
                "confidence": self.confidence,
                "methods": self.methods,
                "seed": self.seed,
                "resampling": "groups fixed" if self.stratified else "rows",
                "small_counts": (
                    f"a rate with fewer than {SMALL_DENOMINATOR} rows in its denominator, or whose "
                    "resamples all agree, gets a Wilson score interval instead of a bootstrap one "
                    '(interval_method "wilson")'
                ),
            }
        out.update(self._model_dict(0))
        if self.cells.n_models == 2:
            out["model_b"] = self._model_dict(1)
            out["difference_a_minus_b"] = self._model_dict("delta")
        out["warnings"] = list(self.warnings)
        return out


def json_number(value: float) -> float | None:
    """A float for JSON: None where undefined."""
    value = float(value)
    return value if math.isfinite(value) else None


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


def tie_tolerance(n_rows: int) -> float:
    """How far apart two resampled differences must be to count as different.

    Every rate here is a ratio of counts with denominators of at most ``n`` rows, so
    a difference of rates that share their denominator (accuracy, a group's TPR of
    model A minus model B's) moves in steps of at least ``1 / n**2`` between distinct
    values, while floating-point rounding of the same value is of order ``1e-16``.
    A quarter of that step separates "equal" from "larger" without letting rounding
    decide a tie; it is kept above rounding for very large ``n``.
    """
    n = max(int(n_rows), 1)
    return float(min(1e-9, max(0.25 / n**2, 1e-13)))


def paired_p_values(
    delta: np.ndarray, distribution: np.ndarray, n_rows: int | None = None
) -> np.ndarray:
    """Berg-Kirkpatrick et al. (2012) paired bootstrap p-values, one per statistic.

    For an observed difference ``d`` and resampled differences ``d_b`` (from resampling
    the *same* rows for both models), ``p = #{b : d_b > 2d} / B`` when ``d > 0`` (and
    with the signs flipped when ``d < 0``): shifting the bootstrap distribution by
    ``-d`` centres it on "no difference", and p is how often a difference as large as
    the observed one arises there. Undefined resamples are left out; ``d = 0`` gives 1.

    The comparison is strict and exact: a resampled difference equal to ``2d`` does
    not count, whichever way rounding moved either side (see :func:`tie_tolerance`;
    ``n_rows`` is the size of the test set, default: the tolerance of a million rows).
    """
    delta = np.asarray(delta, dtype=np.float64)
    dist = np.asarray(distribution, dtype=np.float64)
    tol = tie_tolerance(n_rows if n_rows is not None else 1_000_000)
    sign = np.sign(delta)
    finite = np.isfinite(dist)
    exceed = np.where(
        finite, sign[None, :] * dist > 2.0 * np.abs(delta)[None, :] + tol, False
    ).sum(axis=0)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = exceed / n
    p = np.where(np.abs(delta) <= tol, 1.0, p)
    return np.where(np.isfinite(delta) & (n > 0), p, np.nan)


def _resample_warnings(report: FairnessReport) -> list[str]:
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
    sizes = cells.counts.reshape(cells.n_groups, -1).sum(axis=1)
    if reference is None:
        ref = int(np.argmax(sizes))
    elif reference in cells.group_names:
        ref = cells.group_names.index(reference)
    else:
        raise BootstrapError(
            f"reference group {reference!r} is not a group: choose one of {', '.join(cells.group_names)}"
        )
    layout = Layout(
        n_groups=cells.n_groups, n_models=cells.n_models, reference=ref, between=between
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
        report.intervals = {
            m: {name: np.moveaxis(block, 0, -1) for name, block in layout.split(v.T).items()}
            for m, v in result.intervals.items()
        }
        report.nan_fraction = layout.split(result.nan_fraction)
        report.resamples, report.confidence, report.seed = resamples, confidence, seed
        report.stratified = stratify
        if result.distribution is not None:
            report.p_values = {
                name: block
                for name, block in layout.split(
                    paired_p_values(estimate, result.distribution, cells.n_rows)
                ).items()
                if name.startswith("delta.")
            }
        _use_wilson_where_counts_are_small(report)
        report.warnings.extend(_resample_warnings(report))
    return report


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
