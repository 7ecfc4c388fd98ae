"""Scaling-law fits recover the exponents of synthetic data drawn from a known law."""

from __future__ import annotations

import numpy as np
import pytest

from backends.plan import PlanError, fit_power_law, fit_two_term, scaling_points
from backends.plan.scaling import curve, fit_runs, kaplan_loss_n
from backends.runs import MetricsWriter, create_run, record_event


def _law(n, e=1.8, a=60.0, alpha=0.3):
    return e + a * np.asarray(n, dtype=float) ** -alpha


def test_fit_recovers_the_exponent_with_an_interval_that_covers_it():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e4, 1e8, 9)
    loss = _law(n) * (1 + 0.005 * rng.standard_normal(n.size))
    fit = fit_power_law(n, loss, bootstrap=200, seed=1)
    assert fit.alpha == pytest.approx(0.3, abs=0.03)
    lo, hi = fit.intervals["alpha"]
    assert lo <= 0.3 <= hi and hi - lo < 0.2
    assert fit.e == pytest.approx(1.8, abs=0.1)
    # Extrapolating a decade beyond the largest run stays close to the law.
    assert fit.predict([1e9])[0] == pytest.approx(_law(1e9), rel=0.02)


def test_fit_without_noise_is_exact():
    n = np.geomspace(1e3, 1e7, 6)
    fit = fit_power_law(n, _law(n, e=0.5, a=10, alpha=0.12), bootstrap=0)
    assert fit.alpha == pytest.approx(0.12, abs=1e-4)
    assert fit.rmse < 1e-6


def test_curve_has_a_band_for_plotting():
    n = np.geomspace(1e4, 1e8, 7)
    rng = np.random.default_rng(3)
    fit = fit_power_law(n, _law(n) + 0.01 * rng.standard_normal(n.size), bootstrap=100)
    c = curve(fit, 1e4, 1e10, points=20)
    assert len(c["n"]) == 20 and all(lo <= hi for lo, hi in zip(c["low"], c["high"], strict=True))


def test_two_term_fit_recovers_both_exponents():
    rng = np.random.default_rng(2)
    n = np.repeat(np.geomspace(1e5, 1e8, 5), 4)
    d = np.tile(np.geomspace(1e7, 1e10, 4), 5)
    loss = 1.7 + 400 * n ** -0.34 + 400 * d ** -0.28
    loss = loss * (1 + 0.002 * rng.standard_normal(loss.size))
    fit = fit_two_term(n, d, loss, bootstrap=20)
    assert fit.alpha == pytest.approx(0.34, abs=0.05)
    assert fit.beta == pytest.approx(0.28, abs=0.05)


def test_too_few_sizes_says_to_run_a_sweep():
    with pytest.raises(PlanError, match="size sweep"):
        fit_power_law([1e6, 1e6, 2e6], [3.0, 3.1, 2.9])
    with pytest.raises(PlanError, match="above 0"):
        fit_power_law([0, 1e6, 2e6], [3.0, 3.1, 2.9])


def test_kaplan_reference_slope():
    ratio = kaplan_loss_n(1e8) / kaplan_loss_n(1e9)
    assert ratio == pytest.approx(10**0.076)


def test_points_from_finished_runs(tmp_path):
    widths = [16, 32, 64, 128]
    for i, width in enumerate(widths):
        config = {"model": "gpt", "batch_size": 8, "strategy": "single", "nproc": 1,
                  "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2,
                                   "n_head": 4, "n_embd": width}}
        run = create_run(tmp_path, f"size-{width}", config)
        with MetricsWriter(run, 0) as writer:
            for step in range(1, 4):
                writer.write(step, loss=3.0 - 0.3 * i - 0.01 * step)
            writer.write(3, kind="eval", val_loss=2.9 - 0.3 * i)
        record_event(run, "finished")
    unfinished = create_run(tmp_path, "still-going", config)
    with MetricsWriter(unfinished, 0) as writer:
        writer.write(1, loss=1.0)
    points = scaling_points(tmp_path)
    assert sorted(p.run for p in points) == sorted(f"size-{w}" for w in widths)
    by_width = {p.run: p for p in points}
    assert by_width["size-16"].loss == pytest.approx(2.9)
    assert by_width["size-16"].loss_kind == "val_loss"
    assert by_width["size-16"].params < by_width["size-128"].params
    assert by_width["size-16"].tokens == 3 * 8 * 32
    fit = fit_runs(points, bootstrap=20)
    assert fit.n_points == 4


def test_points_use_the_trainers_validation_records_not_training_loss(tmp_path):
    config = {"model": "gpt", "batch_size": 8, "strategy": "single", "nproc": 1,
              "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2, "n_head": 4,
                               "n_embd": 32}}
    run = create_run(tmp_path, "with-val", config)
    with MetricsWriter(run, 0) as writer:
        for step in range(1, 6):
            writer.write(step, loss=2.0)
        writer.write(5, kind="val", loss=2.5)  # as backends.train writes validation
    record_event(run, "finished")
    (point,) = scaling_points(tmp_path)
    assert point.loss == pytest.approx(2.5)
    assert point.loss_kind == "val_loss"


def test_only_runs_of_one_model_kind_and_dataset_are_fitted_together(tmp_path):
    """A DCGAN run (or GPT runs on another corpus) never lands on the GPT runs' L(N) line."""
    from backends.plan.scaling import comparable_points

    def finished(name: str, config: dict, loss: float) -> None:
        run = create_run(tmp_path, name, config)
        with MetricsWriter(run, 0) as writer:
            writer.write(3, loss=loss)
        record_event(run, "finished")

    for i, width in enumerate([16, 32, 64]):
        finished(f"gpt-{width}", {"model": "gpt", "batch_size": 8, "data": {"dataset": "kjv"},
                                  "model_config": {"vocab_size": 65, "block_size": 32,
                                                   "n_layer": 2, "n_head": 4, "n_embd": width}},
                 3.0 - 0.3 * i)
    finished("gpt-other-text", {"model": "gpt", "batch_size": 8, "data": {"dataset": "tiny"},
                                "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2,
                                                 "n_head": 4, "n_embd": 48}}, 1.0)
    finished("gan", {"model": "dcgan", "batch_size": 8,
                     "data": {"dataset": "fashion-mnist-subset"}}, 0.7)
    points = scaling_points(tmp_path)
    assert len(points) == 5
    kept, left_out = comparable_points(points)
    assert sorted(p.run for p in kept) == ["gpt-16", "gpt-32", "gpt-64"]
    assert {run for run, _ in left_out} == {"gpt-other-text", "gan"}
    assert all("not comparable" in why for _, why in left_out)
