"""The planner in the GUI: the launcher's strategy table, the size sweep, the predicted memory
line on the monitor's memory plot, and the Scaling tab's fit of finished runs.

Runs here are folders written with ``backends.runs`` (configs, events, and
metrics through ``MetricsWriter``); the sweep's launches go to a stand-in
that starts a short sleeping process, so the sequencing is real but no
training runs. Assertions read the numbers behind the table and the plots.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import tomllib

import numpy as np
import pytest
from PySide6.QtCore import Qt

from backends import launch as launch_module
from backends.plan import PlanError, layout_from_train_config, plan_from_train_config
from backends.plan.sweep import launch_sweep, parse_values, sweep_configs, sweep_keys
from backends.runs import MetricsWriter, create_run, record_event
from panels.monitor.plot_views import memory_unit
from panels.training import planner_pane
from panels.training.panel import TrainingPanel
from panels.training.planner_pane import format_bytes
from tests.panels.panel_support import edit

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16}


@pytest.fixture
def launcher(qtbot, runs_context):
    widget = TrainingPanel(runs_context)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    qtbot.waitUntil(lambda: widget.prepared is not None and not widget.is_busy()
                    and widget.planner.result is not None, timeout=60000)
    widget.planner.set_detected_gpus([])  # judge as a CPU-only machine, whatever runs the test
    yield widget
    widget.shutdown()


# ---------------------------------------------------------------- planner pane


def test_planner_table_follows_strategy_and_processes_off_the_gui_thread(
        qtbot, launcher, monkeypatch):
    threads = []
    plan = planner_pane.plan_for_form

    def recording(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return plan(*args, **kwargs)

    monkeypatch.setattr(planner_pane, "plan_for_form", recording)
    pane = launcher.planner
    edit(qtbot, launcher, "strategy", "ddp")
    edit(qtbot, launcher, "nproc", 2)
    qtbot.waitUntil(lambda: pane.result.chosen == "ddp" and pane.result.world_size == 2)
    cols = pane.result.columns
    ddp, fsdp = cols["ddp"], cols["fsdp"]
    assert ddp["world_size"] == fsdp["world_size"] == 2
    # FSDP shards parameters, gradients and optimizer state: about half of DDP's at 2 ranks.
    for part in ("params", "grads", "optimizer"):
        assert fsdp[part] == pytest.approx(ddp[part] / 2, rel=0.05)
    assert ddp["params"] == cols["single"]["params"]
    assert pane.cell_text("Parameters", "fsdp") == format_bytes(fsdp["params"])
    assert pane.cell_text("Total per rank", "ddp") == format_bytes(ddp["total"])
    assert pane.cell_text("Communication per step", "single") == "none"
    assert ddp["comm_bytes_per_step"] > 0
    # A CPU-only machine is said to be one; nothing is guessed.
    assert pane.cell_text("Fits on", "ddp") == "CPU only: no GPU"
    header = pane.table.horizontalHeaderItem(pane._column("ddp"))
    assert header.font().bold()

    before = pane.cell_text("Parameters", "fsdp")
    edit(qtbot, launcher, "nproc", 4)
    qtbot.waitUntil(lambda: pane.result.world_size == 4)
    assert pane.result.columns["fsdp"]["params"] == pytest.approx(ddp["params"] / 4, rel=0.1)
    assert pane.cell_text("Parameters", "fsdp") != before
    assert threads and not any(threads)  # every plan was made on a worker

    # Judged against a GPU from the table, the tiny model fits.
    pane.device_box.setCurrentIndex(pane.device_box.findData("H100 SXM"))
    qtbot.waitUntil(lambda: pane.result.judged and not pane.is_busy())
    assert pane.cell_text("Fits on", "fsdp") == "yes"


def test_planner_names_a_model_size_that_cannot_work(qtbot, launcher):
    edit(qtbot, launcher, "model_config",
         "block_size=64, n_layer=2, n_head=3, n_embd=64, dropout=0.0")
    qtbot.waitUntil(lambda: bool(launcher.planner.result.error))
    assert "n_head" in launcher.planner.summary_label.text()
    assert launcher.planner.table.rowCount() == 0


# ---------------------------------------------------------------- size sweep


def test_sweep_configs_vary_one_size_and_name_each_run():
    base = {"name": "gpt-tiny", "model": "gpt", "model_config": dict(TINY), "resume": "x"}
    configs = sweep_configs(base, "n_embd", parse_values("16, 32 64"))
    assert [c["name"] for c in configs] == ["gpt-tiny-n_embd16", "gpt-tiny-n_embd32",
                                            "gpt-tiny-n_embd64"]
    assert [c["model_config"]["n_embd"] for c in configs] == [16, 32, 64]
    assert all(c["model_config"]["n_layer"] == 1 and "resume" not in c for c in configs)
    assert base["model_config"]["n_embd"] == 16  # the form's config is left alone
    assert sweep_keys(base)[:2] == ["n_embd", "n_layer"]
    for bad, words in (("16", "at least two"), ("16, x", "not a whole number"),
                       ("16, 16", "twice"), ("0, 16", "above 0")):
        with pytest.raises(PlanError, match=words):
            parse_values(bad)
    with pytest.raises(PlanError, match="not a whole number"):
        sweep_configs({**base, "model_config": {**TINY, "dropout": 0.1}}, "dropout", [1, 2])


class FakeLaunch:
    """Stands in for ``backends.launch.launch``: a short process per run, ends ``finished``."""

    def __init__(self):
        self.processes: list[subprocess.Popen] = []
        self.overlapped = False

    def __call__(self, run, config, port=None):
        if any(p.poll() is None for p in self.processes):
            self.overlapped = True
        record_event(run, "started", step=0)
        record_event(run, "finished", step=1)
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
        self.processes.append(process)
        return launch_module.LaunchInfo(run, process.pid, [], {}, run.logs_dir / "x", process)

    def wait(self):
        for process in self.processes:
            process.wait(timeout=30)


def test_sweep_launches_one_after_another_and_checks_first(tmp_path, monkeypatch):
    fake = FakeLaunch()
    monkeypatch.setattr(launch_module, "start", fake)
    base = {"name": "s", "model": "gpt", "steps": 5, "model_config": dict(TINY)}
    # One size that cannot work stops the sweep before anything starts.
    with pytest.raises(PlanError, match="s-n_embd15"):
        launch_sweep(sweep_configs(base, "n_embd", [16, 15]), tmp_path)
    assert list(tmp_path.iterdir()) == []
    seen = []
    results = launch_sweep(sweep_configs(base, "n_layer", [1, 2, 3]), tmp_path, poll=0.02,
                           on_launched=seen.append)
    assert [p.name for p, _ in results] == ["s-n_layer1", "s-n_layer2", "s-n_layer3"]
    assert [s for _, s in results] == ["finished"] * 3
    assert seen == [p for p, _ in results]
    assert not fake.overlapped  # each started after the previous one ended
    config = tomllib.loads((tmp_path / "s-n_layer3" / "config.toml").read_text())
    assert config["model_config"]["n_layer"] == 3
    fake.wait()


def test_sweep_box_launches_from_the_launcher(qtbot, launcher, monkeypatch):
    fake = FakeLaunch()
    monkeypatch.setattr(launch_module, "start", fake)
    box = launcher.sweep
    box.key_box.setEditText("n_layer")
    box.values_edit.setText("1, 2")
    assert "gpt-tiny-n_layer1, gpt-tiny-n_layer2" in box.preview.text()
    box.mode_box.setCurrentText("All at once")
    assert "processes share" in box.preview.text()
    launched = []
    launcher.sig_launched.connect(launched.append)
    with qtbot.waitSignal(box.sig_finished, timeout=20000) as finished:
        qtbot.mouseClick(box.launch_button, Qt.MouseButton.LeftButton)
    assert [p.name for p, _ in finished.args[0]] == ["gpt-tiny-n_layer1", "gpt-tiny-n_layer2"]
    qtbot.waitUntil(lambda: len(launched) == 2)
    assert launcher.current_run.name == "gpt-tiny-n_layer2"
    assert box.launch_button.isEnabled()
    fake.wait()


# ---------------------------------------------------------------- predicted memory line


def _measured_model_state(model_config: dict) -> tuple[int, int, int]:
    """Bytes of a real GPT's parameters, gradients and AdamW state after one training step."""
    import torch

    from backends.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(**model_config))
    optimizer = torch.optim.AdamW(model.parameters())
    x = torch.randint(0, model_config["vocab_size"], (2, model_config["block_size"]))
    _, loss = model(x, x)
    loss.backward()
    optimizer.step()

    def size(t: torch.Tensor) -> int:
        return t.numel() * t.element_size()

    params = sum(size(p) for p in model.parameters())
    grads = sum(size(p.grad) for p in model.parameters() if p.grad is not None)
    state = sum(size(v) for s in optimizer.state.values() for v in s.values()
                if torch.is_tensor(v) and v.dim() > 0)  # moments, not the scalar step
    return params, grads, state


def test_memory_plot_shows_the_planners_prediction(qtbot, runs_context, make_monitor):
    config = {"model": "gpt", "strategy": "ddp", "nproc": 2, "batch_size": 8, "steps": 10,
              "model_config": dict(TINY)}
    run = create_run(runs_context.runs_dir, "predicted", config)
    # The real vocabulary (65 characters) comes from the data; the run records its size.
    real = layout_from_train_config({**config, "model_config": {**TINY, "vocab_size": 65}})[0]
    record_event(run, "started", step=0, parameters=real.params)
    expected = plan_from_train_config({**config, "model_config": {**TINY, "vocab_size": 65}})
    # Measured, not computed with the planner's formula: the bytes of a real GPT of this
    # size, its gradients after a backward pass and AdamW's state after one step.
    param_bytes, grad_bytes, optim_bytes = _measured_model_state({**TINY, "vocab_size": 65})
    for rank in (0, 1):
        with MetricsWriter(run, rank) as writer:
            for step in range(1, 6):
                writer.write(step, "memory", rss=300 * 2**20, param_bytes=param_bytes,
                             grad_bytes=grad_bytes, optim_bytes=optim_bytes)
    panel = make_monitor()
    panel.select_runs([run.path])
    panel.tabs.setCurrentWidget(panel.memory_tab)
    plot = panel.memory_plots[1]
    qtbot.waitUntil(lambda: panel.memory_boxes[1].currentText() == "tensor_bytes",
                    timeout=5000)
    key = "predicted|predicted|tensor_bytes"
    # Planned first from the config (vocabulary assumed), then again from the real size.
    qtbot.waitUntil(lambda: getattr(panel.predictor.get(run.path), "parameters", None)
                    == real.params and not panel.is_busy(), timeout=10000)
    qtbot.waitUntil(lambda: key in plot.references(), timeout=5000)
    shown = [(run.name, panel.runs[run.path].metrics)]
    unit, scale = memory_unit(shown, "tensor_bytes")
    line = plot.references()[key]
    assert line.label == "predicted"
    assert line.value == pytest.approx(expected.memory.model_state * scale)
    assert plot.plotItem.getAxis("left").labelText == unit
    assert plot.reference_line(key).pen.style() == Qt.PenStyle.DashLine
    assert plot.includes_zero()  # bytes from zero: prediction and measurement in proportion
    # The prediction is the measured bytes within 10 % (the same model, the same strategy).
    measured = panel.runs[run.path].metrics.latest("memory", "tensor_bytes", 0)
    assert line.value / scale == pytest.approx(measured, rel=0.1)
    # RSS holds the runtime too: no model plan predicts it, so no line is drawn there.
    assert panel.memory_boxes[0].currentText() == "rss"
    assert panel.memory_plots[0].references() == {}
    panel.memory_boxes[0].setCurrentText("param_bytes")
    qtbot.waitUntil(lambda: "predicted|predicted|param_bytes" in panel.memory_plots[0]
                    .references(), timeout=5000)


# ---------------------------------------------------------------- scaling tab


def finished_run(runs_dir, n_embd, loss):
    config = {"model": "gpt", "strategy": "single", "batch_size": 8, "steps": 20,
              "model_config": {**TINY, "n_embd": n_embd}}
    run = create_run(runs_dir, f"size-n_embd{n_embd}", config)
    record_event(run, "started", step=0)
    with MetricsWriter(run, 0) as writer:
        for step in range(1, 21):
            writer.write(step, "train", loss=loss + max(0, 10 - step) * 0.1)
    record_event(run, "finished", step=20)
    return layout_from_train_config(config)[0].non_embedding_params


def test_scaling_tab_fits_the_finished_runs(qtbot, runs_context, make_monitor):
    alpha, floor, a = 0.4, 1.5, 40.0
    sizes = {}
    for n_embd in (8, 16, 32, 64, 128):
        n = layout_from_train_config({"model": "gpt", "model_config": {**TINY, "n_embd": n_embd}}
                                     )[0].non_embedding_params
        sizes[n_embd] = finished_run(runs_context.runs_dir, n_embd, floor + a * n ** -alpha)
    running = create_run(runs_context.runs_dir, "still-running", {"model": "gpt"})
    record_event(running, "started", step=0)  # not finished: not a point
    panel = make_monitor()
    view = panel.scaling_view
    view.BOOTSTRAP = 200
    with qtbot.waitSignal(view.sig_updated, timeout=30000):
        panel.tabs.setCurrentWidget(view)
    result = view.result
    assert sorted(result.sizes) == sorted(float(n) for n in sizes.values())
    assert sorted(view.points_item.xData.tolist()) == sorted(result.sizes)
    assert result.fit["alpha"] == pytest.approx(alpha, abs=0.02)
    low, high = result.fit["intervals"]["alpha"]
    assert low <= alpha + 0.02 and high >= alpha - 0.02
    assert f"N^−{result.fit['alpha']:.3g}" in view.words.text()
    assert "bootstrap interval" in view.words.text()
    # The fit over the runs' range, then extrapolated ten times beyond, with its band.
    fit_x = view.fit_item.xData
    assert fit_x[0] == pytest.approx(min(result.sizes)) and fit_x[-1] == pytest.approx(
        max(result.sizes))
    assert view.extrapolation_item.xData[-1] == pytest.approx(10 * max(result.sizes))
    assert np.all(view.band_low.yData <= view.band_high.yData + 1e-12)
    assert len(view.kaplan_item.yData) > 0
    assert view.plot.plotItem.ctrl.logXCheck.isChecked()
    assert view.plot.plotItem.ctrl.logYCheck.isChecked()
