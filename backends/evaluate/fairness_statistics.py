"""The fairness statistics as one flat vector: per-group rates, differences, ratios and gaps.

:class:`Layout` says where each block (rates, pairwise differences, each group against
the reference, max - min gaps, min / max ratios, equalised odds, and A - B of each)
sits in the vector, and :func:`fairness_statistic` computes the vector from cell
tables ``[..., *cells]``, vectorised over bootstrap draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from backends.evaluate.cells import model_confusions
from backends.evaluate.metrics import RATE_METRICS, min_max_ratio, rate_stack
from backends.evaluate.metrics import gap as max_min_gap


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
) -> dict[str, np.ndarray]:
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


def fairness_statistic(layout: Layout) -> Callable[[np.ndarray], np.ndarray]:
    """The function from cell tables ``[..., *cells]`` to all statistics ``[..., size]``."""
    pairs = layout.pairs

    def statistic(counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.float64)
        lead = counts.shape[: counts.ndim - (2 + layout.n_models)]
        parts: list[np.ndarray] = []
        per_model: list[dict[str, np.ndarray]] = []
        for conf in model_confusions(counts, layout.n_models):
            blocks = _model_blocks(conf, layout.reference, pairs, layout.between)
            per_model.append(blocks)
            parts.extend(v.reshape(lead + (-1,)) for v in blocks.values())
        if layout.n_models == 2:
            for name in per_model[0]:
                parts.append((per_model[0][name] - per_model[1][name]).reshape(lead + (-1,)))
        return np.concatenate(parts, axis=-1)

    return statistic


def block_prefix(model: int | str) -> str:
    """The prefix of a model's blocks: ``m0``, ``m1``, or ``delta`` for A minus B."""
    return "delta" if model == "delta" else f"m{int(model)}"
