"""Bootstrap over a table of counts: multinomial draws, and percentile, basic and BCa intervals.

Resampling ``n`` rows with replacement and tabulating them into cells gives cell
counts distributed as ``Multinomial(n, observed cell frequencies)``. So when a
statistic depends on the rows only through counts per cell (every confusion-matrix
metric does: the cells are group x label x prediction, x a second model's prediction
when comparing), drawing those counts directly *is* the row bootstrap, at a cost of
``O(resamples x cells)`` that does not grow with the number of rows.

The BCa acceleration needs the jackknife (leave one row out). Leaving a row out
decrements one cell, so there are at most as many distinct jackknife values as
non-empty cells; each is weighted by its cell's count. Intervals follow
``scipy.stats.bootstrap`` (same names, same ``z0`` and acceleration formulas, same
linear interpolation of quantiles), which the tests use as the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from backends.progress import ProgressCallback, report

#: Interval methods, with scipy's names.
CI_METHODS: tuple[str, ...] = ("percentile", "basic", "bca")

# Replicates are drawn and evaluated in chunks so progress is reported and a
# cancellation is honoured within a fraction of a second, and memory stays bounded.
_CHUNK = 2000

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps count tables ``[..., *cells]`` to statistics ``[..., m]``."""


class BootstrapError(ValueError):
    """Bootstrap settings that cannot be used; the message says how to fix them."""


@dataclass
class BootstrapResult:
    """Intervals for ``m`` statistics from ``resamples`` bootstrap replicates.

    ``intervals[method]`` has shape ``[m, 2]`` (low, high); NaN where a statistic is
    undefined on the data or its interval cannot be formed. ``nan_fraction[j]`` is the
    share of replicates in which statistic ``j`` was undefined (a small group drawn
    without positives, say); its interval is computed from the other replicates.
    """

    estimate: np.ndarray
    intervals: dict[str, np.ndarray]
    standard_error: np.ndarray
    nan_fraction: np.ndarray
    resamples: int
    confidence: float
    seed: int | None
    distribution: np.ndarray | None = None
    acceleration: np.ndarray | None = field(default=None, repr=False)
    bias_z0: np.ndarray | None = field(default=None, repr=False)


#: The most resamples one bootstrap draws: p-values to 1e-6, far past any test set's precision.
MAX_RESAMPLES = 1_000_000
# The bootstrap keeps every replicate of every statistic (8 bytes each) for its quantiles.
_MAX_BYTES = 2 * 1024**3


def check_settings(
    resamples: int, confidence: float, methods: Sequence[str], seed: int | None = 0
) -> None:
    """Refuse settings that would give meaningless intervals, naming the fix."""
    if int(resamples) < 10:
        raise BootstrapError(
            f"resamples is {resamples}: use at least 10 (1,000 or more for 95 % intervals)"
        )
    if int(resamples) > MAX_RESAMPLES:
        raise BootstrapError(
            f"resamples is {resamples:,}: use at most {MAX_RESAMPLES:,} (10,000 already gives "
            "p-values to 0.0001)"
        )
    if seed is not None and not 0 <= int(seed) < 2**63:
        raise BootstrapError(f"seed is {seed}: use a whole number from 0 to 2**63 - 1")
    if not 0.0 < float(confidence) < 1.0:
        raise BootstrapError(f"confidence is {confidence}: give a level between 0 and 1, e.g. 0.95")
    for method in methods:
        if method not in CI_METHODS:
            raise BootstrapError(
                f"interval method {method!r} is unknown: choose one of {', '.join(CI_METHODS)}"
            )


def draw_counts(
    counts: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    *,
    strata_axes: int = 0,
) -> np.ndarray:
    """Bootstrap replicates of a count table: ``[resamples, *counts.shape]`` integers.

    With ``strata_axes=0`` the whole table is one multinomial over all cells with the
    table's total as the number of trials (rows resampled freely, group sizes vary).
    With ``strata_axes=k`` the first ``k`` axes index strata (e.g. groups) and each
    stratum is resampled with its own size fixed.
    """
    counts = np.asarray(counts)
    shape = counts.shape
    n_strata = int(np.prod(shape[:strata_axes])) if strata_axes else 1
    flat = counts.reshape(n_strata, -1).astype(np.int64)
    out = np.zeros((resamples, n_strata, flat.shape[1]), dtype=np.int64)
    for s in range(n_strata):
        total = int(flat[s].sum())
        if total == 0:
            continue
        out[:, s, :] = rng.multinomial(total, flat[s] / total, size=resamples)
    return out.reshape((resamples, *shape))


def jackknife_tables(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct leave-one-row-out tables and how many rows give each.

    Returns ``(tables [K, *shape], multiplicity [K])`` for the ``K`` non-empty cells.
    """
    counts = np.asarray(counts)
    flat = counts.reshape(-1)
    nonempty = np.flatnonzero(flat > 0)
    tables = np.repeat(flat[None, :], len(nonempty), axis=0)
    tables[np.arange(len(nonempty)), nonempty] -= 1
    return tables.reshape((len(nonempty), *counts.shape)), flat[nonempty].astype(np.float64)


def bca_acceleration(jackknife_values: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
    """The BCa acceleration ``a`` from jackknife values ``[K, m]`` weighted by ``[K]``.

    Same formula as scipy (Efron & Tibshirani 14.15) with each distinct jackknife value
    counted as often as the rows that produce it. Undefined jackknife values are left
    out; ``a`` is 0 where all jackknife values are equal (nothing to accelerate).
    """
    theta = np.asarray(jackknife_values, dtype=np.float64)
    weight = np.asarray(multiplicity, dtype=np.float64)[:, None] * np.isfinite(theta)
    theta = np.where(np.isfinite(theta), theta, 0.0)
    total = weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weight * theta).sum(axis=0) / total
        u = mean[None, :] - theta
        num = (weight * u**3).sum(axis=0)
        den = 6.0 * (weight * u**2).sum(axis=0) ** 1.5
        accel = num / den
    return np.where(np.isfinite(accel), accel, 0.0)


def _column_quantiles(columns: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolated quantiles of each row of ``columns`` ``[m, B]`` at ``levels [k, m]``.

    Undefined (NaN) replicates are left out. One partial sort (``np.partition``) per
    statistic finds every requested order statistic at once, which is several times
    cheaper than sorting all ``B`` replicates.
    """
    m, b = columns.shape
    k = levels.shape[0]
    out = np.full((k, m), np.nan)
    all_finite = bool(np.isfinite(columns).all())
    for j in range(m):
        values = columns[j] if all_finite else columns[j][np.isfinite(columns[j])]
        count = values.shape[0]
        q = levels[:, j]
        usable = np.isfinite(q)
        if count == 0 or not usable.any():
            continue
        pos = np.clip(q[usable], 0.0, 1.0) * (count - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, count - 1)
        part = np.partition(values, np.unique(np.concatenate([lo, hi])))
        out[usable, j] = part[lo] + (pos - lo) * (part[hi] - part[lo])
    return out


def intervals_from_distribution(
    estimate: np.ndarray,
    distribution: np.ndarray,
    *,
    confidence: float = 0.95,
    methods: Sequence[str] = ("percentile", "bca"),
    acceleration: np.ndarray | None = None,
    transposed: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two-sided intervals from a bootstrap distribution ``[B, m]`` (``[m, B]`` if transposed).

    ``acceleration`` (from :func:`bca_acceleration`) is needed for ``"bca"``. Returns
    the intervals by method (each ``[m, 2]``) and ``z0`` (the BCa bias correction).
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    columns = np.asarray(distribution, dtype=np.float64)
    if not transposed:
        columns = np.ascontiguousarray(columns.T)
    m = columns.shape[0]
    alpha = (1.0 - confidence) / 2.0
    levels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    z0 = np.full(m, np.nan)
    if "percentile" in methods or "basic" in methods:
        levels["percentile"] = (np.full(m, alpha), np.full(m, 1.0 - alpha))
    if "bca" in methods:
        if acceleration is None:
            raise BootstrapError("BCa intervals need the jackknife acceleration")
        finite = np.isfinite(columns).sum(axis=1)
        # Share of replicates below the estimate, ties counted half (scipy's rule).
        below = np.sum(columns < estimate[:, None], axis=1)
        at_or_below = np.sum(columns <= estimate[:, None], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (below + at_or_below) / (2.0 * finite)
        normal = NormalDist()
        z0 = np.array([_probit(normal, s) for s in share])
        z_alpha = normal.inv_cdf(alpha)
        a = np.asarray(acceleration, dtype=np.float64)
        pair = []
        for z in (z_alpha, -z_alpha):
            with np.errstate(invalid="ignore", divide="ignore"):
                shifted = z0 + (z0 + z) / (1.0 - a * (z0 + z))
            pair.append(np.array([_cdf(normal, v) for v in shifted]))
        levels["bca"] = (pair[0], pair[1])
    names = list(levels)
    stacked = np.concatenate([np.stack(levels[n]) for n in names])
    values = _column_quantiles(columns, stacked)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        low, high = values[2 * i], values[2 * i + 1]
        if name == "percentile":
            if "percentile" in methods:
                out["percentile"] = np.stack([low, high], axis=1)
            if "basic" in methods:
                out["basic"] = np.stack([2 * estimate - high, 2 * estimate - low], axis=1)
        else:
            out[name] = np.stack([low, high], axis=1)
    out = {method: out[method] for method in methods}
    for interval in out.values():
        interval[~np.isfinite(estimate)] = np.nan
    return out, z0


def _probit(normal: NormalDist, p: float) -> float:
    """Inverse normal CDF, NaN outside (0, 1) (a degenerate bootstrap distribution)."""
    if not np.isfinite(p) or p <= 0.0 or p >= 1.0:
        return float("nan")
    return normal.inv_cdf(float(p))


def _cdf(normal: NormalDist, x: float) -> float:
    return normal.cdf(float(x)) if np.isfinite(x) else float("nan")


def _spread(columns: np.ndarray, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite replicates per statistic and their standard deviation (the standard error)."""
    finite = np.isfinite(columns)
    n_finite = finite.sum(axis=1)
    # Centring on the estimate first keeps the sum of squares accurate.
    shifted = np.where(finite, columns - np.where(np.isfinite(center), center, 0.0)[:, None], 0.0)
    total = shifted.sum(axis=1)
    squares = np.einsum("ij,ij->i", shifted, shifted)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - total**2 / n_finite) / (n_finite - 1)
    return n_finite, np.sqrt(np.maximum(variance, 0.0))


def _check_memory(m: int, resamples: int) -> None:
    """Refuse a distribution of ``m`` statistics x ``resamples`` that would not fit in memory."""
    if m * int(resamples) * 8 > _MAX_BYTES:
        most = _MAX_BYTES // (8 * m)
        raise BootstrapError(
            f"{resamples:,} resamples of {m:,} statistics need "
            f"{m * resamples * 8 / 1024**3:.1f} GiB: use at most {most:,} resamples here"
        )


def _resampled_columns(
    counts: np.ndarray,
    statistic: Statistic,
    m: int,
    resamples: int,
    rng: np.random.Generator,
    stratify_axes: int,
    progress: ProgressCallback | None,
) -> np.ndarray:
    """The statistic (``m`` values) on ``resamples`` draws of the table, ``[m, resamples]``, in chunks."""
    # Stored one statistic per row so that per-statistic work reads contiguous memory.
    columns = np.empty((m, resamples), dtype=np.float64)
    done = 0
    while done < resamples:
        size = min(_CHUNK, resamples - done)
        draws = draw_counts(counts, size, rng, strata_axes=stratify_axes)
        columns[:, done : done + size] = statistic(draws).T
        done += size
        report(progress, 0.8 * done / resamples)
    return columns


def bootstrap_counts(
    counts: np.ndarray,
    statistic: Statistic,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    methods: Sequence[str] = ("percentile", "bca"),
    seed: int | None = 0,
    stratify_axes: int = 0,
    keep_distribution: bool = False,
    progress: ProgressCallback | None = None,
) -> BootstrapResult:
    """Bootstrap ``statistic`` over the rows behind a count table.

    ``statistic`` maps count tables ``[..., *counts.shape]`` to ``[..., m]`` and must
    be vectorised over the leading axes. Rows are resampled freely unless
    ``stratify_axes`` fixes the size of each stratum (see :func:`draw_counts`).
    """
    check_settings(resamples, confidence, methods, seed)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() == 0:
        raise BootstrapError("the table is empty: there are no rows to resample")
    rng = np.random.default_rng(seed)
    estimate = np.asarray(statistic(counts), dtype=np.float64)
    _check_memory(estimate.shape[-1], resamples)
    columns = _resampled_columns(
        counts, statistic, estimate.shape[-1], resamples, rng, stratify_axes, progress
    )
    acceleration = None
    if "bca" in methods:
        tables, multiplicity = jackknife_tables(counts)
        acceleration = bca_acceleration(statistic(tables), multiplicity)
    intervals, z0 = intervals_from_distribution(
        estimate,
        columns,
        confidence=confidence,
        methods=methods,
        acceleration=acceleration,
        transposed=True,
    )
    n_finite, standard_error = _spread(columns, estimate)
    report(progress, 1.0)
    return BootstrapResult(
        estimate=estimate,
        intervals=intervals,
        standard_error=standard_error,
        nan_fraction=1.0 - n_finite / resamples,
        resamples=int(resamples),
        confidence=float(confidence),
        seed=seed,
        distribution=columns.T if keep_distribution else None,
        acceleration=acceleration,
        bias_z0=z0,
    )
