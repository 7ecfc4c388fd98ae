"""The Hosts dialog, the launcher's host picker and a remote run in the Monitor (real SSH server)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from backends.remote.record import read_remote


def test_hosts_dialog_adds_checks_and_refuses_bad_input(qtbot, ssh_server, tmp_path):
    from panels.training.hosts_dialog import HostsDialog
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    dialog = HostsDialog(AppContext(tmp_path / "runs", AppSettings()))
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("lab")
    dialog.destination_edit.setText("me@bad host")
    dialog.workdir_edit.setText(str(tmp_path / "w"))
    assert not dialog.add_from_form()
    assert "is not an SSH destination" in dialog.message.text()
    dialog.destination_edit.setText(f"me@127.0.0.1:{ssh_server.port}")
    dialog.python_edit.setText(sys.executable)
    dialog.key_edit.setText(str(ssh_server.client_key_path))
    dialog.known_hosts_edit.setText(str(ssh_server.known_hosts))
    assert dialog.add_from_form()
    assert dialog.table.rowCount() == 1 and dialog.selected_name() == "lab"
    dialog.check_selected()
    qtbot.waitUntil(lambda: not dialog.is_busy() and dialog.check_button.isEnabled(), timeout=60000)
    assert dialog.message.text() == "lab: ready"
    assert "workbench  installed" in dialog.report.toPlainText()
    ssh_server.refusing = True  # the host turns us away: one line, no traceback
    dialog.check_selected()
    qtbot.waitUntil(lambda: not dialog.is_busy() and dialog.check_button.isEnabled(), timeout=60000)
    assert "lab" in dialog.message.text() and "\n" not in dialog.message.text()
    ssh_server.refusing = False
    dialog.remove_selected()
    assert dialog.table.rowCount() == 0


@pytest.mark.slow
def test_remote_run_in_the_monitor_is_mirrored_and_marked_with_its_host(qtbot, remote_host, tmp_path):
    from backends.remote.launch import launch_remote
    from backends.train.config import TrainConfig
    from panels.training.panel import TrainingPanel
    from tests.panels.panel_support import open_monitor
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    host = remote_host("lab")
    runs = tmp_path / "runs"
    context = AppContext(runs, AppSettings())
    launcher = TrainingPanel(context)
    qtbot.addWidget(launcher)
    assert launcher.host_box.findData("lab") > 0  # the picker offers the saved host
    launcher.shutdown()

    config = TrainConfig.from_dict({"model": "gpt", "steps": 40, "batch_size": 4, "log_every": 1,
                                    "data": {"dataset": "excerpt"},
                                    "model_config": {"block_size": 16, "n_layer": 1, "n_head": 2,
                                                     "n_embd": 16}})
    run = launch_remote(config, runs, host)
    panel = open_monitor(qtbot, context, show=False)
    try:
        panel.select_runs([run.path])
        qtbot.waitUntil(lambda: "on <b>lab</b>" in panel.title_label.text(), timeout=30000)
        qtbot.waitUntil(lambda: run.path in panel.runs and panel.runs[run.path].metrics.last_step == 40,
                        timeout=180000)
        qtbot.waitUntil(lambda: not panel.remote.followed(), timeout=60000)
        panel.refresh_runs()
        qtbot.waitUntil(lambda: panel.status_of(run.path) == "finished", timeout=30000)
        remote = Path(read_remote(run)["remote_run_dir"])
        assert run.metrics_path(0).read_bytes() == (remote / "metrics" / "rank_0.jsonl").read_bytes()

        # The Checkpoints tab asks the host: the final checkpoint is listed "on lab", and
        # Open fetches it here and hands the local folder to the panels that load checkpoints.
        view, opened = panel.checkpoints, []
        context.events.sig_checkpoint_opened.connect(opened.append)
        view.refresh()
        qtbot.waitUntil(lambda: view.run_path == run.path and bool(view.checkpoints), timeout=60000)
        column = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
        last = view.table.rowCount() - 1
        assert view.table.item(last, column.index("Where")).text() == "on lab"
        assert not list(run.checkpoints_dir.glob("step_*"))  # nothing fetched before asked
        view.open_button.click()
        qtbot.waitUntil(lambda: bool(opened), timeout=60000)
        assert opened[0].parent == run.checkpoints_dir and (opened[0] / "meta.json").is_file()
        there = Path(str(view.checkpoints[last].path)) if view.checkpoints[last].host else None
        qtbot.waitUntil(lambda: view.table.item(view.table.rowCount() - 1,
                                                column.index("Where")).text() == "here",
                        timeout=60000)
        assert there is None or sorted(p.name for p in opened[0].rglob("*")) == sorted(
            p.name for p in there.rglob("*"))
    finally:
        panel.shutdown()
