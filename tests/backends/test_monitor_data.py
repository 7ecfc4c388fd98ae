"""The numbers behind the monitor: growing series, smoothing, progress, compare, failures, CSV."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

from backends.monitor_data import (
    MISSING,
    GrowingArray,
    RunMetrics,
    Series,
    differing_keys,
    ema,
    estimate_progress,
    export_metrics_csv,
    failure_report,
    format_duration,
    latest_sample,
)
from backends.runs import MetricsWriter, RunReader, create_run, record_event


def _recursive_ema(values, weight):
    out, acc = [], 0.0
    for n, value in enumerate(values):
        acc = acc * weight + (1 - weight) * value
        out.append(acc / (1 - weight ** (n + 1)))
    return np.array(out)


def test_growing_array_doubles_and_keeps_handed_out_views():
    array = GrowingArray(capacity=4)
    array.extend([1.0, 2.0, 3.0])
    early = array.view
    array.extend(np.arange(10.0))
    assert array.capacity == 16
    assert array.view.tolist() == [1.0, 2.0, 3.0, *range(10)]
    assert early.tolist() == [1.0, 2.0, 3.0]  # a plot holding the old view still sees its data


@pytest.mark.parametrize("weight", [0.0, 0.05, 0.6, 0.99])
def test_ema_matches_the_debiased_definition_in_one_go_and_incrementally(weight):
    values = np.cumsum(np.random.default_rng(0).standard_normal(5000))
    expected = _recursive_ema(values, weight)
    assert np.allclose(ema(values, weight), expected, rtol=0, atol=1e-9)
    series = Series()
    for lo, hi in ((0, 7), (7, 4100), (4100, 5000)):
        series.extend(np.arange(lo, hi), np.arange(lo, hi), values[lo:hi])
        smoothed = series.smoothed(weight)
    assert np.allclose(smoothed, expected, rtol=0, atol=1e-9)


def test_ema_of_a_constant_stays_exactly_constant():
    assert np.all(ema(np.full(3000, 16 * 2**20 / 2**30), 0.9) == 16 * 2**20 / 2**30)


def test_run_metrics_files_every_numeric_field_by_kind_and_rank(tmp_path):
    run = create_run(tmp_path, "r", {"model": "gpt", "steps": 10})
    with MetricsWriter(run, 0) as w0, MetricsWriter(run, 1) as w1:
        for step in range(1, 6):
            w0.write(step, "train", loss=1.0 / step, brand_new_metric=step * 2, note="text")
            w1.write(step, "memory", rss=100 + step, param_bytes=4, grad_bytes=4,
                     optim_bytes=8, device="cpu")
        w0.write(5, "val", loss=0.5)
    metrics = RunMetrics()
    for rank, records in RunReader(run).poll().metrics.items():
        metrics.add_records(rank, records)
    assert metrics.kinds() == {
        "memory": ["grad_bytes", "optim_bytes", "param_bytes", "rss", "tensor_bytes"],
        "train": ["brand_new_metric", "loss"],
        "val": ["loss"],
    }
    assert metrics.get("train", "brand_new_metric", 0).value.view.tolist() == [2, 4, 6, 8, 10]
    assert metrics.get("memory", "tensor_bytes", 1).value.view.tolist() == [16] * 5
    assert metrics.ranks("memory", "rss") == [1]
    assert metrics.last_step == 5
    assert metrics.latest("train", "loss") == pytest.approx(0.2)


def test_nan_values_are_kept_out_of_the_curve_and_reported():
    metrics = RunMetrics()
    records = [{"t": float(s), "step": s, "kind": "train", "loss": v}
               for s, v in enumerate([3.0, 2.0, math.nan, math.inf, 1.0])]
    metrics.add_records(0, records)
    series = metrics.get("train", "loss", 0)
    assert series.value.view.tolist() == [3.0, 2.0, 1.0]
    assert series.first_nonfinite_step == 2


def test_a_resumed_run_replaces_the_steps_after_its_checkpoint():
    series = Series()
    series.extend(np.arange(1, 11), np.arange(1, 11), np.full(10, 5.0))
    # Stopped at step 10, resumed from the checkpoint at step 6: steps 7.. are written again.
    series.extend(np.arange(7, 13), np.arange(20, 26), np.full(6, 1.0))
    assert series.step.view.tolist() == [*range(1, 7), *range(7, 13)]
    assert series.value.view.tolist() == [5.0] * 6 + [1.0] * 6


def test_progress_and_eta_come_from_the_recent_step_rate():
    steps = np.arange(1, 101, dtype=float)
    times = 1000.0 + steps * 0.5  # two steps per second
    progress = estimate_progress(steps, times, total=400)
    assert progress.step == 100 and progress.fraction == 0.25
    assert progress.eta_s == pytest.approx(150.0)
    assert format_duration(progress.eta_s) == "2m 30s"
    assert estimate_progress(np.array([]), np.array([]), 400) is None


def test_differing_keys_names_changed_and_missing_keys_only():
    a = {"name": "a", "lr": 1e-3, "strategy": "ddp", "data": {"dataset": "excerpt"}, "seed": 0}
    b = {"name": "b", "lr": 3e-3, "strategy": "ddp", "data": {"dataset": "bible"}}
    rows = dict(differing_keys([a, b]))
    assert set(rows) == {"lr", "data.dataset", "seed"}
    assert rows["seed"] == [0, MISSING]


def test_failure_report_names_rank_signal_and_falls_back_to_the_ranks_own_traceback(tmp_path):
    run = create_run(tmp_path, "r", {"model": "gpt"})
    log = run.logs_dir / "torchrun" / "r_abc" / "attempt_0" / "1" / "stderr.log"
    log.parent.mkdir(parents=True)
    log.write_text("boom\n")
    failed = {"t": 1.0, "kind": "failed", "rank": 1, "exit_code": -9, "signal": "SIGKILL",
              "message": "Signal 9 (SIGKILL) received by PID 42", "traceback": None,
              "log_tail": "step 3\nstep 4"}
    error = {"kind": "error", "rank": 1, "traceback": "Traceback...\nRuntimeError: x"}
    report = failure_report(run, failed, [error])
    assert report.rank == 1
    assert report.headline.startswith("Rank 1 failed: killed by signal 9 (SIGKILL)")
    assert report.traceback.endswith("RuntimeError: x")
    assert report.log_tail == "step 3\nstep 4"
    assert report.log_files[0] == log  # the failed rank's own log first
    assert "out-of-memory killer" in report.hint
    oom = failure_report(run, {"rank": 0, "exit_code": 1,
                               "traceback": "torch.OutOfMemoryError: CUDA out of memory."})
    assert oom.hint.startswith("The GPU ran out of memory")


def test_export_csv_has_a_row_per_record_and_a_column_per_field(tmp_path):
    run = create_run(tmp_path, "r", {"model": "gpt"})
    with MetricsWriter(run, 0) as w:
        w.write(1, "train", loss=2.0, lr=0.1)
        w.write(1, "memory", rss=5)
    out = tmp_path / "m.csv"
    assert export_metrics_csv([run], out) == 2
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:5] == ["run", "rank", "kind", "step", "t"]
    assert {"loss", "lr", "rss"} <= set(rows[0])
    assert rows[0]["loss"] == "2.0" and rows[1]["loss"] == "" and rows[1]["rss"] == "5"


def test_latest_sample_is_the_newest_image_or_text(tmp_path):
    run = create_run(tmp_path, "r", {"model": "gpt"})
    assert latest_sample(run) is None
    (run.samples_dir / "step_0000100.txt").write_text("old")
    newest = run.samples_dir / "step_0000200.png"
    newest.write_bytes(b"png")
    os.utime(newest, (2e9, 2e9))
    (run.samples_dir / "notes.json").write_text("{}")
    record_event(run, "sample", step=200, path=str(newest))
    assert latest_sample(run) == newest
