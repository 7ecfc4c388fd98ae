"""Launcher and monitor together, as a user drives them: launch, watch it grow, stop."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from backends import launch
from backends.runs import open_run, read_events, status_from_events
from workbench.app import build_window


def loss_steps(monitor, run_name):
    plot = monitor.plots["loss"]
    key = f"{run_name}|train|loss|0"
    return plot.curve_data(key)[0] if key in plot.curve_keys() else np.array([])


@pytest.mark.slow
def test_launch_ddp_from_the_launcher_watch_it_grow_then_stop(qtbot, tmp_path):
    window = build_window(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    launcher, monitor = window.panels["training"], window.panels["monitor"]
    qtbot.waitUntil(lambda: launcher.prepared is not None and not launcher.is_busy(),
                    timeout=60000)
    form = launcher.form.editors
    form["name"].setText("gui-ddp")
    form["strategy"].setCurrentText("ddp")
    form["nproc"].setValue(2)
    form["steps"].setValue(5000)
    for key in ("eval_every", "sample_every", "checkpoint_every"):
        form[key].setValue(0)
    qtbot.waitUntil(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy(),
                    timeout=30000)
    assert "--nproc-per-node 2" in launcher.command_view.toPlainText()

    qtbot.mouseClick(launcher.launch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: launcher.current_run is not None, timeout=30000)
    run = open_run(launcher.current_run)
    try:
        window.show_panel("monitor")
        qtbot.waitUntil(lambda: len(loss_steps(monitor, "gui-ddp")) > 3, timeout=90000)
        grown = len(loss_steps(monitor, "gui-ddp"))
        qtbot.waitUntil(lambda: len(loss_steps(monitor, "gui-ddp")) > grown + 3, timeout=30000)

        qtbot.mouseClick(launcher.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: status_from_events(read_events(run)) == "stopped", timeout=60000)
        launch.wait(run, timeout=30)
        checkpoints = sorted(run.checkpoints_dir.glob("step_*"))
        assert checkpoints, "a stopped run keeps a checkpoint"
        assert (checkpoints[-1] / "meta.json").is_file()
        stopped_at = int(checkpoints[-1].name.split("_")[1])
        assert stopped_at >= grown
        # The monitor shows the run as stopped once the event is read.
        qtbot.waitUntil(lambda: monitor.current_run() is not None
                        and monitor.current_run().status == "stopped", timeout=10000)
    finally:
        if launch.is_alive(run):
            launch.kill(run)
        window.close()
