"""The lifecycle in the GUI: true states in the Monitor, checkpoints, Kill asks, names move on."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from backends import launch
from backends.runs import MetricsWriter, create_run, record_event
from panels.monitor.plot_curve import segment_breaks
from tests.panels.panel_support import edit
from workbench.app import build_window


def _fake_checkpoint(run, step: int) -> None:
    folder = run.checkpoints_dir / f"step_{step:07d}"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text('{"saved": 1700000000.0}')
    (folder / "model.safetensors").write_bytes(b"\0" * 4096)


def _ended_runs(runs_dir):
    """Four runs as their processes left them: killed, stopped, failed, and lost."""
    for name, ending in (("was-killed", {"kind": "killed", "by": "user",
                                        "reason": "killed from the workbench at step 9"}),
                         ("was-stopped", {"kind": "stopped", "step": 8}),
                         ("was-failed", {"kind": "failed", "rank": 1, "exit_code": -9,
                                         "signal": "SIGKILL", "message": "killed by the OOM killer"}),
                         ("was-lost", None)):
        run = create_run(runs_dir, name, {"model": "gpt", "steps": 20, "strategy": "ddp", "nproc": 2})
        record_event(run, "started", step=0)
        with MetricsWriter(run, 0) as writer:
            for step in range(1, 10):
                writer.write(step, "train", loss=3.0 - step * 0.1)
        _fake_checkpoint(run, 4)
        _fake_checkpoint(run, 8)
        if ending is not None:
            kind = ending.pop("kind")
            record_event(run, kind, **ending)


@pytest.fixture
def monitor(qtbot, runs_context, make_monitor):
    _ended_runs(runs_context.runs_dir)
    panel = make_monitor()
    qtbot.waitUntil(lambda: panel.runs_model.rowCount() == 4, timeout=30000)
    return panel


def test_the_monitor_tells_killed_stopped_failed_and_lost_apart(monitor):
    states = {monitor.runs_model.summary(r).name: monitor.runs_model.summary(r).status
              for r in range(monitor.runs_model.rowCount())}
    assert states == {"was-killed": "killed", "was-stopped": "stopped", "was-failed": "failed",
                      "was-lost": "lost"}
    # The command line computes the same states with the same function.
    assert {s.name: s.status for s in launch.list_runs(monitor.context.runs_dir)} == states


def test_the_checkpoints_tab_lists_steps_and_resume_names_its_step(qtbot, monitor):
    path = monitor.context.runs_dir / "was-killed"
    monitor.select_runs([path])
    monitor.tabs.setCurrentWidget(monitor.checkpoints)
    view = monitor.checkpoints
    qtbot.waitUntil(lambda: view.run_path == path and len(view.checkpoints) == 2, timeout=30000)
    assert [c.step for c in view.checkpoints] == [4, 8]
    assert "latest" in view.table.item(1, 0).text() and view.table.item(0, 2).text() == "0.0 MiB"
    assert view.state_label.text().startswith("killed: killed from the workbench at step 9")
    assert monitor.status_of(path) == "killed"


def test_wall_time_curves_break_across_a_stop_and_resume():
    step = np.array([1, 2, 3, 4, 5, 6], dtype=float)
    time = np.array([0.0, 0.1, 0.2, 60.0, 60.1, 60.2])  # a minute between stop and resume
    assert segment_breaks(step, time, x_time=True).tolist() == [2]
    assert segment_breaks(step, time, x_time=False).tolist() == []
    back = np.array([1, 2, 3, 2, 3, 4], dtype=float)  # resumed from an earlier checkpoint
    assert segment_breaks(back, np.arange(6.0), x_time=False).tolist() == [2]


@pytest.mark.slow
def test_launch_offers_the_next_name_and_kill_asks_then_reads_killed(qtbot, tmp_path):
    window = build_window(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    launcher, monitor = window.panels["training"], window.panels["monitor"]
    qtbot.waitUntil(lambda: launcher.prepared is not None and not launcher.is_busy(), timeout=60000)
    form = launcher.form.editors
    for key, value in (("name", "gui-kill"), ("strategy", "ddp"), ("nproc", 2), ("steps", 100000)):
        edit(qtbot, launcher, key, value)
    qtbot.waitUntil(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy(),
                    timeout=30000)
    qtbot.mouseClick(launcher.launch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: launcher.current_run is not None, timeout=60000)
    run = launcher.current_run
    try:
        # The form moved on: the next launch gets a free name, and no red "already exists".
        qtbot.waitUntil(lambda: form["name"].text() == "gui-kill-2" and not launcher.is_busy(),
                        timeout=30000)
        assert launcher.launch_button.isEnabled() and launcher.form_status.text() == ""
        from backends.runs import RunDir

        qtbot.waitUntil(lambda: launch.run_state(RunDir(run)).status == "running", timeout=60000)
        launcher.kill()
        box = launcher.kill_dialog
        assert isinstance(box, QMessageBox) and "Kill gui-kill" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        qtbot.wait(300)
        assert launch.run_state(RunDir(run)).status == "running"  # Cancel kills nothing
        launcher.kill()
        launcher.kill_dialog.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: launch.run_state(RunDir(run)).status == "killed", timeout=30000)
        window.show_panel("monitor")
        monitor.refresh_runs()
        qtbot.waitUntil(lambda: monitor.status_of(run) == "killed", timeout=30000)
    finally:
        if launch.is_alive(RunDir(run)):
            launch.kill(RunDir(run))
        window.close()


@pytest.mark.slow
def test_your_script_from_the_launcher_shows_its_command_and_runs(qtbot, tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "ddp_train.py"
    window = build_window(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    launcher = window.panels["training"]
    qtbot.waitUntil(lambda: launcher.prepared is not None and not launcher.is_busy(), timeout=60000)
    launcher.load_preset("Your script…")
    assert launcher.script_mode and launcher.form.isHidden()
    form = launcher.script_form
    form.set_script(tmp_path / "missing.py")
    qtbot.waitUntil(lambda: not launcher.is_busy(), timeout=30000)
    assert not launcher.launch_button.isEnabled()
    assert "does not exist" in form.errors["script"].text()
    form.set_script(example)
    form.args_edit.setText("--steps 12 --lr '3e-3'")
    form.strategy_box.setCurrentText("ddp")
    form.nproc_spin.setValue(2)
    qtbot.waitUntil(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy(),
                    timeout=30000)
    command = launcher.command_view.toPlainText()
    assert command.startswith(f"cd {example.parent} && ") and "WORKBENCH_RUN_DIR=" in command
    assert command.endswith(f"{example} --steps 12 --lr 3e-3") and "--nproc-per-node 2" in command
    qtbot.mouseClick(launcher.launch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: launcher.current_run is not None, timeout=60000)
    from backends.runs import RunDir

    run = RunDir(launcher.current_run)
    try:
        qtbot.waitUntil(lambda: launch.run_state(run).status == "finished", timeout=180000)
        assert sorted(run.metrics_files()) == [0, 1]
        assert form.name_edit.text() == "ddp_train-2"  # the next launch gets a free name
    finally:
        if launch.is_alive(run):
            launch.kill(run)
        window.close()
