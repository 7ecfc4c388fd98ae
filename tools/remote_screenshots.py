"""Screenshots of remote hosts: the Hosts dialog and a remote run in the Monitor.

The "remote" host is this machine behind a real SSH server on 127.0.0.1 (the
test suite's in-process asyncssh server, key authentication), so the pictures
show the real dialog, a real check and a real run mirrored over SSH. Writes
``docs/screenshots/hosts.png`` and ``docs/screenshots/remote_run.png``::

    python tools/remote_screenshots.py [--seconds 25]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "remote"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25, help="how long the run trains first")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="workbench-remote-shots-"))
    os.environ["WORKBENCH_SETTINGS"] = str(tmp / "settings.ini")

    from _offscreen import open_window
    from conftest import SSHTestServer  # the tests' loopback SSH server

    from backends.remote.hosts import Host, add_host
    from backends.train.config import TrainConfig

    server = SSHTestServer(tmp)
    try:
        host = add_host(Host(name="gpu-lab", destination=f"me@127.0.0.1:{server.port}",
                             workdir=str(tmp / "remote-workbench"), python=sys.executable,
                             key=str(server.client_key_path), known_hosts=str(server.known_hosts)))
        app, window, wait = open_window()
        launcher, monitor = window.panels["training"], window.panels["monitor"]
        out = ROOT / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)

        window.show_panel("training")
        dialog = launcher.open_hosts_dialog()
        dialog.select("gpu-lab")
        dialog.name_edit.setText("cluster")
        dialog.destination_edit.setText("me@login.cluster.example:22")
        dialog.workdir_edit.setText("/scratch/me/workbench")
        dialog.kind_box.setCurrentText("slurm")
        dialog.check_selected()
        wait(lambda: not dialog.is_busy() and dialog.check_button.isEnabled(), 60)
        wait(lambda: False, 0.5)
        dialog.grab().save(str(out / "hosts.png"))
        dialog.close()

        config = TrainConfig.from_dict({
            "name": "gpt-tiny-remote", "model": "gpt", "strategy": "ddp", "nproc": 2, "steps": 3000,
            "batch_size": 8, "log_every": 1, "data": {"dataset": "excerpt"},
            "model_config": {"block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 32}})
        from backends.remote.launch import launch_remote

        run = launch_remote(config, launcher.context.runs_dir, host)
        window.show_panel("monitor")
        monitor.refresh_runs()
        wait(lambda: monitor.runs_model.row_of(run.path) >= 0, 30)
        monitor.select_runs([run.path])
        wait(lambda: False, args.seconds)
        wait(lambda: not monitor.is_busy(), 10)
        window.grab().save(str(out / "remote_run.png"))
        from backends import launch

        launch.stop(run)
        window.close()
        app.processEvents()
        print(f"wrote {out / 'hosts.png'} and {out / 'remote_run.png'}")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
