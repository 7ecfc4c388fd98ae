"""Scaling-law fits to your own runs, with bootstrap intervals, and published reference laws.

- :func:`fit_power_law`: ``L(N) = E + A / N**alpha`` from (size, loss) points.
  For a fixed exponent the model is linear in (E, A), so the fit profiles the
  exponent: least squares for (E, A) on a log-spaced grid of alpha, then a
  golden-section refinement around the best. ``E >= 0`` and ``A > 0`` hold.
- :func:`fit_two_term`: ``L(N, D) = E + A / N**alpha + B / D**beta`` when the
  runs saw different token counts (Hoffmann et al. 2022's form), profiling
  (alpha, beta) on a grid refined twice.
- ``bootstrap``: refit on points resampled with replacement; the 2.5 and 97.5
  percentiles give the interval on each exponent.
- :data:`KAPLAN` and :data:`CHINCHILLA`: the published laws, as reference
  curves. Their losses are nats per token of other datasets and tokenizers:
  compare slopes, not heights.
- :func:`scaling_points`: (params, tokens, loss) of finished runs in a runs folder.

numpy only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backends.plan.errors import PlanError
from backends.progress import ProgressCallback, report

# Kaplan et al. 2020 (arXiv 2001.08361), eq. 1.1-1.2: L(N) = (N_c / N)^alpha_N with
# N the non-embedding parameters; L(D) = (D_c / D)^alpha_D.
KAPLAN = {"alpha_n": 0.076, "n_c": 8.8e13, "alpha_d": 0.095, "d_c": 5.4e13}
# Hoffmann et al. 2022 (arXiv 2203.15556), approach 3: L = E + A/N^a + B/D^b.
CHINCHILLA = {"e": 1.69, "a": 406.4, "alpha": 0.34, "b": 410.7, "beta": 0.28}

_ALPHA_RANGE = (1e-3, 3.0)


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """``L(N) = e + a / N**alpha`` (and ``+ b / D**beta`` for a two-term fit)."""

    e: float
    a: float
    alpha: float
    rmse: float
    n_points: int
    b: float | None = None
    beta: float | None = None
    intervals: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    boot: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)

    def predict(self, n: Any, d: Any = None) -> np.ndarray:
        """Loss at sizes ``n`` (and token counts ``d`` for a two-term fit)."""
        n = np.asarray(n, dtype=float)
        out = self.e + self.a * n ** -self.alpha
        if self.b is not None and self.beta is not None:
            if d is None:
                raise PlanError("this fit has a data term: give token counts d too")
            out = out + self.b * np.asarray(d, dtype=float) ** -self.beta
        return out

    def band(self, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap band of the one-term curve at ``n`` (needs a bootstrap)."""
        if not self.boot:
            raise PlanError("no bootstrap in this fit: fit with bootstrap > 0")
        n = np.asarray(n, dtype=float)
        curves = self.boot["e"][:, None] + self.boot["a"][:, None] * n[None, :] ** -self.boot[
            "alpha"][:, None]
        lo = (1 - level) / 2 * 100
        return np.percentile(curves, lo, axis=0), np.percentile(curves, 100 - lo, axis=0)

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("e", "a", "alpha", "b", "beta", "rmse", "n_points")}
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        return {k: v for k, v in out.items() if v is not None}


def _check_points(n: Any, loss: Any, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n, dtype=float).ravel()
    loss = np.asarray(loss, dtype=float).ravel()
    if n.shape != loss.shape:
        raise PlanError(f"sizes and losses differ in length ({n.size} vs {loss.size})")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(loss))):
        raise PlanError("sizes and losses must be finite numbers")
    if np.any(n <= 0):
        raise PlanError("sizes must be above 0")
    if np.unique(n).size < minimum:
        raise PlanError(
            f"a fit needs runs of at least {minimum} different sizes, got {np.unique(n).size}; "
            "train a size sweep (the same preset at several widths or depths)"
        )
    return n, loss


def _profile_one(x_pow: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares (E >= 0, A >= 0) per row of ``x_pow`` (grid x points); returns E, A, SSE."""
    xm = x_pow.mean(axis=1, keepdims=True)
    ym = y.mean()
    dx = x_pow - xm
    var = (dx**2).sum(axis=1)
    a = np.where(var > 0, (dx * (y - ym)).sum(axis=1) / np.where(var > 0, var, 1), 0.0)
    e = ym - a * xm[:, 0]
    # E below zero (a loss floor cannot be negative): fit through the origin instead.
    neg = e < 0
    if np.any(neg):
        xx = (x_pow[neg] ** 2).sum(axis=1)
        a[neg] = (x_pow[neg] * y).sum(axis=1) / xx
        e[neg] = 0.0
    a = np.maximum(a, 0.0)
    sse = ((e[:, None] + a[:, None] * x_pow - y) ** 2).sum(axis=1)
    return e, a, sse


def _fit_one(n: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    logn = np.log(n)
    grid = np.geomspace(*_ALPHA_RANGE, 240)
    e, a, sse = _profile_one(np.exp(-grid[:, None] * logn[None, :]), y)
    i = int(np.argmin(sse))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]

    def sse_at(alpha: float) -> float:
        return float(_profile_one(np.exp(-alpha * logn)[None, :], y)[2][0])

    # Golden-section search inside the bracketing grid cells.
    g = (math.sqrt(5) - 1) / 2
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = sse_at(c), sse_at(d)
    for _ in range(40):
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = sse_at(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = sse_at(d)
    alpha = (lo + hi) / 2
    e1, a1, s1 = _profile_one(np.exp(-alpha * logn)[None, :], y)
    if s1[0] > sse[i]:  # refinement should not lose; keep the grid point if it did
        return float(e[i]), float(a[i]), float(grid[i]), float(sse[i])
    return float(e1[0]), float(a1[0]), float(alpha), float(s1[0])


def fit_power_law(
    n: Sequence[float], loss: Sequence[float], bootstrap: int = 1000, seed: int = 0,
    progress: ProgressCallback | None = None,
) -> PowerLawFit:
    """Fit ``L(N) = E + A / N**alpha`` with ``bootstrap`` resamples for the intervals."""
    n_arr, y = _check_points(n, loss, 3)
    e, a, alpha, sse = _fit_one(n_arr, y)
    boots: dict[str, list[float]] = {"e": [], "a": [], "alpha": []}
    rng = np.random.default_rng(seed)
    for k in range(bootstrap):
        idx = rng.integers(0, n_arr.size, n_arr.size)
        if np.unique(n_arr[idx]).size < 3:
            continue  # a resample with fewer than 3 sizes cannot pin three numbers
        be, ba, balpha, _ = _fit_one(n_arr[idx], y[idx])
        boots["e"].append(be)
        boots["a"].append(ba)
        boots["alpha"].append(balpha)
        if k % 50 == 0:
            report(progress, k / bootstrap)
    boot = {k: np.asarray(v) for k, v in boots.items()}
    intervals = _intervals(boot)
    report(progress, 1.0)
    return PowerLawFit(e, a, alpha, math.sqrt(sse / n_arr.size), int(n_arr.size),
                       intervals=intervals, boot=boot if bootstrap else {})


def _intervals(boot: dict[str, np.ndarray], level: float = 0.95) -> dict[str, tuple[float, float]]:
    lo = (1 - level) / 2 * 100
    return {
        k: (float(np.percentile(v, lo)), float(np.percentile(v, 100 - lo)))
        for k, v in boot.items() if v.size
    }


def _solve_two(
    ln_n: np.ndarray, ln_d: np.ndarray, y: np.ndarray, alphas: np.ndarray, betas: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Least squares for (E, A, B) at every (alpha, beta) pair; returns E, A, B, SSE (flat)."""
    aa, bb = np.meshgrid(alphas, betas, indexing="ij")
    aa, bb = aa.ravel(), bb.ravel()
    xn = np.exp(-aa[:, None] * ln_n[None, :])
    xd = np.exp(-bb[:, None] * ln_d[None, :])
    ones = np.ones_like(xn)
    design = np.stack([ones, xn, xd], axis=2)  # (G, n, 3)
    gram = np.einsum("gni,gnj->gij", design, design) + 1e-12 * np.eye(3)
    rhs = np.einsum("gni,n->gi", design, y)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    coef = np.maximum(coef, 0.0)  # E, A, B cannot be negative
    sse = ((np.einsum("gni,gi->gn", design, coef) - y) ** 2).sum(axis=1)
    return coef[:, 0], coef[:, 1], coef[:, 2], sse, aa, bb


def _fit_two(n: np.ndarray, d: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    ln_n, ln_d = np.log(n), np.log(d)
    alphas = np.geomspace(0.02, 2.0, 40)
    betas = np.geomspace(0.02, 2.0, 40)
    for _ in range(3):
        e, a, b, sse, aa, bb = _solve_two(ln_n, ln_d, y, alphas, betas)
        i = int(np.argmin(sse))
        best_a, best_b = aa[i], bb[i]
        # Zoom in around the best cell for the next round.
        alphas = np.geomspace(best_a / 1.3, best_a * 1.3, 25)
        betas = np.geomspace(best_b / 1.3, best_b * 1.3, 25)
    return float(e[i]), float(a[i]), float(aa[i]), float(b[i]), float(bb[i]), float(sse[i])


def fit_two_term(
    n: Sequence[float], d: Sequence[float], loss: Sequence[float], bootstrap: int = 200,
    seed: int = 0, progress: ProgressCallback | None = None,
) -> PowerLawFit:
    """Fit ``L(N, D) = E + A / N**alpha + B / D**beta``; needs several sizes and token counts."""
    n_arr, y = _check_points(n, loss, 2)
    d_arr, _ = _check_points(d, loss, 2)
    if n_arr.size < 5:
        raise PlanError(f"a fit with a data term needs at least 5 runs, got {n_arr.size}")
    e, a, alpha, b, beta, sse = _fit_two(n_arr, d_arr, y)
    boots: dict[str, list[float]] = {k: [] for k in ("e", "a", "alpha", "b", "beta")}
    rng = np.random.default_rng(seed)
    for k in range(bootstrap):
        idx = rng.integers(0, n_arr.size, n_arr.size)
        if np.unique(n_arr[idx]).size < 2 or np.unique(d_arr[idx]).size < 2:
            continue
        vals = _fit_two(n_arr[idx], d_arr[idx], y[idx])
        for key, v in zip(("e", "a", "alpha", "b", "beta"), vals[:5], strict=True):
            boots[key].append(v)
        if k % 10 == 0:
            report(progress, k / bootstrap)
    boot = {k: np.asarray(v) for k, v in boots.items()}
    report(progress, 1.0)
    return PowerLawFit(e, a, alpha, math.sqrt(sse / n_arr.size), int(n_arr.size), b=b, beta=beta,
                       intervals=_intervals(boot), boot=boot if bootstrap else {})


def kaplan_loss_n(n: Any) -> np.ndarray:
    """Kaplan et al.'s L(N) = (N_c / N)^0.076 (N: non-embedding parameters), nats/token."""
    return (KAPLAN["n_c"] / np.asarray(n, dtype=float)) ** KAPLAN["alpha_n"]


def kaplan_loss_d(d: Any) -> np.ndarray:
    """Kaplan et al.'s L(D) = (D_c / D)^0.095 (D: tokens), nats/token."""
    return (KAPLAN["d_c"] / np.asarray(d, dtype=float)) ** KAPLAN["alpha_d"]


def chinchilla_loss(n: Any, d: Any) -> np.ndarray:
    """Hoffmann et al.'s fitted L(N, D) = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28."""
    c = CHINCHILLA
    return (c["e"] + c["a"] * np.asarray(n, dtype=float) ** -c["alpha"]
            + c["b"] * np.asarray(d, dtype=float) ** -c["beta"])


def curve(fit: PowerLawFit, n_min: float, n_max: float, points: int = 100,
          d: float | None = None) -> dict[str, list[float]]:
    """Points to draw a fit on log axes from ``n_min`` to ``n_max`` (extrapolation included),
    with its bootstrap band where the fit has one: ``{"n", "loss", "low", "high"}``."""
    n = np.geomspace(n_min, n_max, points)
    d_arr = None if d is None else np.full_like(n, d)
    out = {"n": n.tolist(), "loss": fit.predict(n, d_arr).tolist()}
    if fit.boot and fit.b is None:
        lo, hi = fit.band(n)
        out["low"], out["high"] = lo.tolist(), hi.tolist()
    return out


# ---- points from runs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScalingPoint:
    run: str
    params: int  # all parameters
    non_embedding_params: int
    tokens: float | None  # tokens (or samples) trained on
    loss: float
    loss_kind: str  # "val_loss" or "loss" (mean of the last train records)
    model: str = ""  # model kind (gpt, dcgan, ...): only runs of one kind share a law
    dataset: str = ""  # what it was trained on: losses on different data do not compare


def comparable_points(
    points: Sequence[ScalingPoint],
) -> tuple[list[ScalingPoint], list[tuple[str, str]]]:
    """The largest set of points with the same model kind and dataset, and why others are left out.

    One law L(N) only describes runs whose losses measure the same thing: a GAN's
    generator loss and a GPT's cross-entropy, or cross-entropy on two corpora, do
    not lie on one curve. Ties prefer GPT runs, then the alphabetically first.
    """
    groups: dict[tuple[str, str], list[ScalingPoint]] = {}
    for p in points:
        groups.setdefault((p.model, p.dataset), []).append(p)
    if not groups:
        return [], []
    key = max(groups, key=lambda k: (len(groups[k]), k[0] == "gpt", tuple(-ord(c) for c in k[0])))
    kept = groups[key]
    model, dataset = key
    left_out = [
        (p.run, f"{p.model or 'unknown model'} on {p.dataset or 'unknown data'}: not comparable "
                f"with the {len(kept)} {model or 'unknown'} run(s) on {dataset or 'unknown data'}")
        for p in points
        if (p.model, p.dataset) != key
    ]
    return kept, left_out


def scaling_points(
    runs: Iterable[str | Path] | str | Path, status: str = "finished", last: int = 10,
    on_skip: Callable[[str, str], None] | None = None,
) -> list[ScalingPoint]:
    """One point per run (a runs folder, or run folders) that ended with ``status``.

    The loss is the last validation loss if the run logged one, else the mean
    of its last ``last`` training losses; tokens come from the records'
    ``tokens`` field when present, else steps x global batch x context.
    Runs that cannot give a point are reported to ``on_skip(run, why)``.
    """
    from backends.plan.planner import layout_from_train_config
    from backends.runs import RunDir, RunDirError, read_config, read_events, status_from_events

    if isinstance(runs, str | Path):
        root = Path(runs)
        folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    else:
        folders = [Path(p) for p in runs]
    skip = on_skip or (lambda run, why: None)
    points: list[ScalingPoint] = []
    for folder in folders:
        run = RunDir(folder)
        if status and status_from_events(read_events(run)) != status:
            continue
        try:
            config = read_config(run)
            layout, _ = layout_from_train_config(config)
        except (RunDirError, PlanError, ValueError) as exc:
            skip(run.name, str(exc))
            continue
        records = _read_records(run.metrics_path(0))
        # The trainer writes validation as kind="val" records with a "loss" field;
        # a flat "val_loss" field is accepted too (runs written by other tools).
        val = [r for r in records if r.get("kind") == "val" and _is_number(r.get("loss"))]
        flat_val = [r for r in records if _is_number(r.get("val_loss"))]
        train = [r for r in records if r.get("kind", "train") == "train" and _is_number(r.get("loss"))]
        if val:
            loss, kind, final = float(val[-1]["loss"]), "val_loss", val[-1]
        elif flat_val:
            loss, kind, final = float(flat_val[-1]["val_loss"]), "val_loss", flat_val[-1]
        elif train:
            loss = float(np.mean([r["loss"] for r in train[-last:]]))
            kind, final = "loss", train[-1]
        else:
            skip(run.name, "no loss recorded")
            continue
        tokens = final.get("tokens")
        if not isinstance(tokens, int | float):
            step = final.get("step")
            per_step = config.get("batch_size", 0) * (
                layout.gpt.block_size if layout.gpt is not None else 1)
            tokens = float(step * per_step) if isinstance(step, int) and per_step else None
        data_table = config.get("data")
        data = data_table if isinstance(data_table, dict) else {}
        dataset = str(data.get("dataset") or data.get("path") or "")
        points.append(ScalingPoint(run.name, layout.params, layout.non_embedding_params,
                                   tokens, loss, kind, str(config.get("model", "")), dataset))
    return points


def _read_records(path: Path) -> list[dict[str, Any]]:
    import json

    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    out.append(record)
    except OSError:
        pass
    return out


def fit_runs(points: Sequence[ScalingPoint], use: str = "non_embedding", bootstrap: int = 1000,
             seed: int = 0, progress: ProgressCallback | None = None) -> PowerLawFit:
    """Fit the runs' points: ``L(N)`` when they share a token count, else ``L(N, D)``."""
    if use not in ("non_embedding", "params"):
        raise PlanError(f"use must be non_embedding or params, got {use!r}")
    n = [p.non_embedding_params if use == "non_embedding" else p.params for p in points]
    loss = [p.loss for p in points]
    tokens = [p.tokens for p in points if p.tokens is not None]
    if len(tokens) == len(points) and len({round(t) for t in tokens}) >= 2 \
            and len(points) >= 5:
        return fit_two_term(n, tokens, loss, bootstrap=min(bootstrap, 200), seed=seed,
                            progress=progress)
    return fit_power_law(n, loss, bootstrap=bootstrap, seed=seed, progress=progress)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
