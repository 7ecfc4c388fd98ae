"""The cell table: predictions tabulated once per group, true label and prediction(s).

Every number the fairness report gives is a function of this table
(:mod:`backends.evaluate.fairness_statistics`), so the bootstrap draws the table
instead of the rows and costs the same for any number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backends.evaluate.predictions import Predictions

#: The name used for all rows together in per-group tables.
OVERALL = "overall"


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
