"""The live monitor: curves follow real writer processes, options, failures, compare, delete, export.

Runs here are written by real processes: small writers appending with
``backends.runs.MetricsWriter`` (fast), and one real 2-process DDP training
run through ``backends.launch`` (slow: it checks reattach and the failure
banner against torchrun itself). Assertions read the data behind the plots.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

import resources
from backends.monitor_data import ema
from backends.runs import MetricsWriter, RunDir, create_run, read_events, record_event
from panels.monitor.panel import MonitorPanel

ROOT = Path(__file__).resolve().parents[2]

# A writer process for one rank: `count` steps at `hz` records per second (0: as fast as it can).
WRITER = r"""
import math, sys, time
from pathlib import Path
from backends.runs import MetricsWriter, RunDir, record_event
run, rank, count, hz = RunDir(Path(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
first = int(sys.argv[5]) if len(sys.argv) > 5 else 1
with MetricsWriter(run, rank) as w:
    for step in range(first, first + count):
        w.write(step, "train", loss=3.0 * math.exp(-step / 50) + 0.01 * rank, lr=1e-3,
                grad_norm=1.0 + step % 3, step_time=0.01, tokens_per_s=1000.0 + step,
                brand_new_metric=step * 2.0)
        w.write(step, "memory", rss=(100 + 10 * rank) * 2**20 + step, param_bytes=4096,
                grad_bytes=4096, optim_bytes=8192, device="cpu")
        if hz:
            time.sleep(1.0 / hz)
"""


def start_writer(run: RunDir, rank: int, count: int, hz: float = 0.0, first: int = 1):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(run.path), str(rank), str(count), str(hz), str(first)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def make_run(runs_dir: Path, name: str, **config) -> RunDir:
    run = create_run(runs_dir, name, {"model": "gpt", "strategy": "ddp", "nproc": 2, "steps": 400,
                                      **config})
    record_event(run, "started", step=0)
    return run


def mark_launched_by(run: RunDir, pids: list[int]) -> None:
    """Record the writers as the run's processes, as the launcher does (for reattach)."""
    info = {"launcher_pid": pids[0], "workers": {str(i): {"pid": p} for i, p in enumerate(pids)}}
    run.run_info_path.write_text(json.dumps(info))


def loss_steps(panel, run_name, rank=0):
    """The x data (steps) of a run's loss curve; empty while the curve does not exist yet."""
    plot = panel.plots["loss"]
    key = f"{run_name}|train|loss|{rank}"
    return plot.curve_data(key)[0] if key in plot.curve_keys() else np.array([])


def wait_processes(processes):
    for process in processes:
        process.wait(timeout=30)


# ---------------------------------------------------------------- writer processes


def test_reattaches_a_running_run_and_curves_follow_every_rank(qtbot, runs_context, make_monitor):
    run = make_run(runs_context.runs_dir, "live")
    writers = [start_writer(run, rank, count=150, hz=100) for rank in (0, 1)]
    mark_launched_by(run, [w.pid for w in writers])
    try:
        panel = make_monitor()
        # Running when the panel starts: watched again and shown without a click.
        qtbot.waitUntil(lambda: panel.shown == [run.path], timeout=5000)
        qtbot.waitUntil(lambda: len(loss_steps(panel, "live")) > 10, timeout=10000)
        seen = len(loss_steps(panel, "live"))
        qtbot.waitUntil(lambda: len(loss_steps(panel, "live")) > seen, timeout=5000)
        assert panel.runs_model.find(run.path).status == "running"
        wait_processes(writers)
        qtbot.waitUntil(lambda: len(loss_steps(panel, "live")) == 150, timeout=5000)
    finally:
        for w in writers:
            w.kill()
    x, y = panel.plots["loss"].curve_data("live|train|loss|0")
    assert x.tolist() == list(range(1, 151))
    assert np.allclose(y, 3.0 * np.exp(-x / 50))
    # Memory: one curve per rank, in MiB for these sizes.
    panel.tabs.setCurrentWidget(panel.memory_tab)
    memory = panel.memory_plots[0]
    assert panel.memory_boxes[0].currentText() == "rss"
    assert sorted(memory.curve_keys()) == ["live|memory|rss|0", "live|memory|rss|1"]
    qtbot.waitUntil(lambda: len(memory.curve_data("live|memory|rss|1")[1]) == 150, timeout=5000)
    _, rss1 = memory.curve_data("live|memory|rss|1")
    assert rss1[0] == pytest.approx(110 + 1 / 2**20)
    assert memory.plotItem.getAxis("left").labelText == "MiB"
    # tokens/s is preferred to samples/s; a field no view knows is in "All metrics".
    assert panel.plots["throughput"].curve_keys() == ["live|train|tokens_per_s|0"]
    panel.tabs.setCurrentWidget(panel.fields_tab)
    panel.select_field("train", "brand_new_metric")
    assert sorted(panel.field_plot.curve_keys()) == [
        "live|train|brand_new_metric|0", "live|train|brand_new_metric|1"]
    # Progress against the config's 400 steps; the list shows the last loss.
    assert panel.progress_bar.format() == "step 150 / 400"
    assert panel.runs_model.find(run.path).last_loss == pytest.approx(3.0 * math.exp(-3))


def test_display_options_smoothing_log_and_wall_time(qtbot, runs_context, make_monitor):
    run = make_run(runs_context.runs_dir, "opts")
    wait_processes([start_writer(run, 0, count=200)])
    panel = make_monitor()
    panel.select_runs([run.path])
    key = "opts|train|loss|0"
    qtbot.waitUntil(lambda: len(loss_steps(panel, "opts")) == 200, timeout=5000)
    _, raw = panel.plots["loss"].curve_data(key)
    panel.smoothing_slider.setValue(60)
    _, smooth = panel.plots["loss"].curve_data(key)
    assert np.allclose(smooth, ema(raw, 0.6))
    assert np.array_equal(panel.plots["loss"].raw_curve_data(key)[1], raw)  # faint, behind
    main, faint = panel.plots["loss"].curve_items(key)
    assert faint.isVisible() and faint.opts["pen"].color().alpha() < 100
    assert main.opts["symbol"] is None and main.opts["clipToView"]
    assert main.opts["downsampleMethod"] == "peak" and main.opts["autoDownsample"]
    panel.smoothing_slider.setValue(0)
    assert not faint.isVisible()
    panel.log_y_box.setChecked(True)
    assert panel.plots["loss"].plotItem.ctrl.logYCheck.isChecked()
    panel.x_axis_box.setCurrentIndex(1)
    x, _ = panel.plots["loss"].curve_data(key)
    times = panel.runs[run.path].metrics.get("train", "loss", 0).time.view
    assert np.allclose(x, times - times.min())
    assert panel.plots["loss"].plotItem.getAxis("bottom").labelText == "wall time (s)"
    panel.x_axis_box.setCurrentIndex(0)
    readout = panel.plots["loss"].readout_at(100.2)
    assert f"{3.0 * math.exp(-2):.4g}" in readout and "step 100" in readout


def test_a_long_history_is_filed_in_slices_and_complete(qtbot, runs_context, make_monitor):
    run = make_run(runs_context.runs_dir, "long")
    wait_processes([start_writer(run, 0, count=12000)])
    panel = make_monitor()
    filed = []
    original = panel.feed.file_records
    panel.feed.file_records = lambda *args: (filed.append(len(args[2])), original(*args))
    panel.select_runs([run.path])
    qtbot.waitUntil(lambda: len(loss_steps(panel, "long")) == 12000, timeout=20000)
    assert loss_steps(panel, "long").tolist() == list(range(1, 12001))
    assert max(filed) <= 2000 and sum(filed) == 24000  # train + memory records


def test_failed_event_raises_the_banner_with_rank_code_and_logs(qtbot, runs_context, make_monitor):
    run = make_run(runs_context.runs_dir, "dies")
    log = run.logs_dir / "torchrun" / "dies_x" / "attempt_0" / "1" / "stderr.log"
    log.parent.mkdir(parents=True)
    log.write_text("step 7\nRuntimeError: out of patience\n")
    panel = make_monitor()
    panel.select_runs([run.path])
    assert panel.banner.isHidden()
    record_event(run, "error", rank=1, message="RuntimeError: out of patience",
                 traceback="Traceback (most recent call last):\nRuntimeError: out of patience")
    t_written = time.monotonic()
    record_event(run, "failed", rank=1, exit_code=1, signal=None, message="<NONE>",
                 traceback=None, log_tail="step 7\nRuntimeError: out of patience")
    with qtbot.waitSignal(panel.sig_run_failed, timeout=2000):
        pass
    assert time.monotonic() - t_written < 2.0
    assert panel.banner.isVisible()
    text = panel.banner.text
    assert text.startswith("Rank 1 failed: exit code 1")
    assert "<NONE>" not in text
    assert "RuntimeError: out of patience" in panel.banner.traceback_text.toPlainText()
    assert "step 7" in panel.banner.log_text.toPlainText()
    assert "stderr.log" in panel.banner.links.text()
    assert panel.runs_model.find(run.path).status == "failed"


def test_several_runs_overlay_and_the_table_names_what_differs(qtbot, runs_context, make_monitor):
    a = make_run(runs_context.runs_dir, "lr-small", lr=1e-3)
    b = make_run(runs_context.runs_dir, "lr-big", lr=3e-3)
    wait_processes([start_writer(a, 0, count=30), start_writer(b, 0, count=40)])
    panel = make_monitor()
    qtbot.waitUntil(lambda: panel.runs_model.rowCount() == 2, timeout=5000)
    selected = []
    runs_context.events.sig_run_selected.connect(selected.append)
    panel.select_runs([a.path, b.path])
    assert set(panel.shown) == {a.path, b.path}
    assert selected and selected[0] in (a.path, b.path)
    qtbot.waitUntil(
        lambda: len(loss_steps(panel, "lr-small")) == 30 and len(loss_steps(panel, "lr-big")) == 40,
        timeout=5000,
    )
    # Overlaid: one colour per run, the same for all of a run's curves.
    panel.smoothing_slider.setValue(0)
    loss = panel.plots["loss"]
    colors = {k: loss.curve_items(k)[0].opts["pen"].color().name() for k in loss.curve_keys()}
    assert colors["lr-small|train|loss|0"] != colors["lr-big|train|loss|0"]
    assert len(set(colors.values())) == 2
    panel.tabs.setCurrentWidget(panel.compare_table)
    assert panel.compare_table.differing() == ["lr"]
    assert panel.compare_table.columnCount() == 2
    qtbot.waitUntil(lambda: panel.compare_table.item(1, 1) is not None
                    and panel.compare_table.item(1, 1).text() != "", timeout=3000)
    assert panel.compare_table.verticalHeaderItem(1).text() == "last loss"


def test_delete_asks_first_and_refuses_a_running_run(qtbot, runs_context, make_monitor):
    done = create_run(runs_context.runs_dir, "old", {"model": "vae"})
    record_event(done, "finished", step=1)
    ghost = make_run(runs_context.runs_dir, "ghost")  # "running", but its process is gone
    gone = start_writer(ghost, 0, count=1)
    gone.wait(timeout=30)
    mark_launched_by(ghost, [gone.pid])
    live = make_run(runs_context.runs_dir, "busy")
    writer = start_writer(live, 0, count=1000, hz=100)
    mark_launched_by(live, [writer.pid])
    try:
        panel = make_monitor()
        qtbot.waitUntil(lambda: panel.runs_model.rowCount() == 3, timeout=5000)
        assert panel.runs_model.find(ghost.path).status == "lost"
        panel.select_runs([live.path])
        qtbot.waitUntil(lambda: panel.runs[live.path].status == "running", timeout=5000)
        panel.delete_selected()
        assert panel.delete_dialog is None and "still running" in runs_context.errors[-1]
        panel.select_runs([done.path])
        panel.delete_selected()
        panel.delete_dialog.button(QMessageBox.StandardButton.Cancel).click()
        assert done.path.exists()
        panel.delete_selected()
        panel.delete_dialog.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: not done.path.exists(), timeout=5000)
        qtbot.waitUntil(lambda: panel.runs_model.row_of(done.path) < 0, timeout=5000)
        assert live.path.exists()
    finally:
        writer.kill()
        writer.wait()


def test_cuda_memory_is_never_smoothed_and_shows_the_device_total(qtbot, runs_context, make_monitor):
    run = make_run(runs_context.runs_dir, "cuda")
    gib = 2**30
    with MetricsWriter(run, 0) as w0, MetricsWriter(run, 1) as w1:
        for step in range(1, 21):
            for w in (w0, w1):
                w.write(step, "memory", allocated=(2 + step % 5) * gib, peak_allocated=8 * gib,
                        reserved=9 * gib, device_total=80 * gib, alloc_retries=0, ooms=0)
    panel = make_monitor()
    panel.select_runs([run.path])
    panel.smoothing_slider.setValue(90)
    panel.tabs.setCurrentWidget(panel.memory_tab)
    plot = panel.memory_plots[0]
    qtbot.waitUntil(lambda: len(plot.curve_keys()) == 2, timeout=5000)
    assert panel.memory_boxes[0].currentText() == "allocated"
    assert panel.memory_boxes[1].currentText() == "peak_allocated"
    qtbot.waitUntil(lambda: len(plot.curve_data("cuda|memory|allocated|1")[1]) == 20, timeout=5000)
    _, y = plot.curve_data("cuda|memory|allocated|1")
    assert y.tolist() == [2 + s % 5 for s in range(1, 21)]  # GiB, raw: peaks stay peaks
    assert plot.ceiling_line() is not None and plot.ceiling_line().value() == 80.0
    # Lower ranks are drawn wider, so two equal curves both show.
    assert plot.curve_items("cuda|memory|allocated|0")[0].opts["pen"].widthF() > \
        plot.curve_items("cuda|memory|allocated|1")[0].opts["pen"].widthF()


def test_exports_plots_and_metrics_and_shows_the_latest_sample(qtbot, runs_context, make_monitor,
                                                             tmp_path):
    run = make_run(runs_context.runs_dir, "export")
    wait_processes([start_writer(run, 0, count=50), start_writer(run, 1, count=50)])
    panel = make_monitor()
    panel.select_runs([run.path])
    qtbot.waitUntil(lambda: len(loss_steps(panel, "export")) == 50, timeout=5000)
    (tmp_path / "out").mkdir()
    pngs = panel.export_plots(tmp_path / "out" / "plots.png")
    assert [p.name for p in pngs] == [
        "plots_loss.png", "plots_learning_rate.png", "plots_gradient_norm.png",
        "plots_step_time.png", "plots_throughput.png"]
    assert not QImage(str(pngs[0])).isNull()
    panel.tabs.setCurrentWidget(panel.memory_tab)
    svgs = panel.export_plots(tmp_path / "out" / "memory.svg")
    assert len(svgs) == 2 and "<svg" in svgs[0].read_text()
    with qtbot.waitSignal(panel.sig_exported, timeout=5000):
        panel.export_csv(tmp_path / "out" / "metrics.csv")
    lines = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 50 * 2 and "loss" in lines[0].split(",")
    # A sample written by the trainer appears beside the curves.
    grid = QImage(28, 28, QImage.Format.Format_Grayscale8)
    grid.fill(128)
    grid.save(str(run.samples_dir / "step_0000050.png"))
    qtbot.waitUntil(lambda: panel.sample_preview.is_image(), timeout=3000)
    (run.samples_dir / "step_0000060.txt").write_text("In the beginning")
    os.utime(run.samples_dir / "step_0000060.txt", (time.time() + 5, time.time() + 5))
    qtbot.waitUntil(lambda: panel.sample_preview.text.toPlainText() == "In the beginning",
                    timeout=3000)


def test_a_launched_run_is_shown_and_a_reopened_panel_continues_it(qtbot, runs_context, make_monitor):
    panel = make_monitor()
    run = make_run(runs_context.runs_dir, "fresh")
    runs_context.events.sig_run_launched.emit(run.path)
    assert panel.shown == [run.path]
    first = start_writer(run, 0, count=40)
    first.wait(timeout=30)
    qtbot.waitUntil(lambda: len(loss_steps(panel, "fresh")) == 40, timeout=5000)
    panel.shutdown()
    panel.close()
    # The next window: the run is still running (a new writer holds it), reattached, continued.
    second = start_writer(run, 0, count=300, hz=100, first=41)
    mark_launched_by(run, [second.pid])
    try:
        reopened = make_monitor()
        qtbot.waitUntil(lambda: reopened.shown == [run.path], timeout=5000)
        qtbot.waitUntil(lambda: len(loss_steps(reopened, "fresh")) > 60, timeout=10000)
        assert loss_steps(reopened, "fresh")[:41].tolist() == list(range(1, 42))
    finally:
        second.kill()
        second.wait()


# ---------------------------------------------------------------- a real DDP run


@pytest.mark.slow
def test_real_ddp_run_grows_reattaches_and_reports_a_killed_rank(qtbot, runs_context):
    """A 2-process DDP run: curves grow, a new main window reattaches, a killed rank is named."""
    from backends import launch
    from backends.train.config import TrainConfig
    from workbench.app import build_window

    def open_window():
        window = build_window(runs_context.runs_dir)
        qtbot.addWidget(window)
        window.show()
        window.show_panel("monitor")
        monitor = window.panels["monitor"]
        assert isinstance(monitor, MonitorPanel), window.context.errors
        return window, monitor

    preset = resources.resource_path("presets", "gpt-tiny.toml").read_text(encoding="utf-8")
    config = tomllib.loads(preset)
    config.update(name="ddp", strategy="ddp", nproc=2, steps=5000, eval_every=0, sample_every=0,
                  checkpoint_every=0)
    run = create_run(runs_context.runs_dir, "ddp", config)
    window, panel = open_window()
    launch.start(run, TrainConfig.from_dict(config))
    try:
        window.context.events.sig_run_launched.emit(run.path)
        # Curve data grows while the two ranks train; memory has one curve per rank.
        qtbot.waitUntil(lambda: len(loss_steps(panel, "ddp")) > 5, timeout=60000)
        grown = len(loss_steps(panel, "ddp"))
        qtbot.waitUntil(lambda: len(loss_steps(panel, "ddp")) > grown + 5, timeout=10000)
        panel.tabs.setCurrentWidget(panel.memory_tab)
        qtbot.waitUntil(lambda: len(panel.memory_plots[0].curve_keys()) == 2, timeout=5000)
        assert panel.memory_boxes[0].currentText() == "rss"
        panel.tabs.setCurrentWidget(panel.training_tab)
        # Close the main window during the run, open a new one: reattached, curves continue.
        before = len(loss_steps(panel, "ddp"))
        window.close()
        assert launch.is_alive(run)
        window, reopened = open_window()
        qtbot.waitUntil(lambda: reopened.shown == [run.path], timeout=10000)
        qtbot.waitUntil(lambda: len(loss_steps(reopened, "ddp")) > before + 5, timeout=15000)
        steps = loss_steps(reopened, "ddp")
        assert steps.tolist() == list(range(1, len(steps) + 1))
        # Kill rank 1: the banner names it, with its signal, within 2 s.
        workers = json.loads(run.run_info_path.read_text())["workers"]
        killed_at = time.monotonic()
        os.kill(int(workers["1"]["pid"]), signal.SIGKILL)
        qtbot.waitUntil(lambda: reopened.banner.isVisible(), timeout=10000)
        elapsed = time.monotonic() - killed_at
        print(f"failure banner shown {elapsed:.2f} s after the kill")
        assert reopened.banner.report.rank == 1
        assert "Rank 1 failed: killed by signal 9 (SIGKILL)" in reopened.banner.text
        assert elapsed < 2.0, f"the banner took {elapsed:.2f} s"
        assert [e["kind"] for e in read_events(run)][-1] == "failed"
    finally:
        window.close()
        launch.kill(run)
        launch.wait(run, timeout=30)
