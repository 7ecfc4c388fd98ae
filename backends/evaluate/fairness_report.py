"""The fairness report: per-group rates, between-group comparisons and their intervals.

:class:`FairnessReport` is what :func:`backends.evaluate.fairness.evaluate_fairness`
returns; it reads values, intervals and why a rate is undefined by model, metric and
group, and exports itself through :mod:`backends.evaluate.fairness_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.evaluate.cells import OVERALL, CellTable
from backends.evaluate.fairness_json import report_dict
from backends.evaluate.fairness_statistics import Layout, block_prefix
from backends.evaluate.metrics import RATE_METRICS, undefined_reason
from backends.evaluate.small_counts import WILSON


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
        return block_prefix(model)

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of everything in the report (undefined values are null)."""
        return report_dict(self)
