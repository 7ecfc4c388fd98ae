"""Paired bootstrap p-values (Berg-Kirkpatrick et al. 2012) and the tolerance that decides ties."""

from __future__ import annotations

import numpy as np


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
