"""Screenshots of the Monitor watching a user's own script and a TensorBoard log.

Launches ``examples/ddp_train.py`` from the launcher's "Your script" with 2
DDP processes (CPU, loopback rendezvous), then runs
``examples/tensorboard_only.py`` into a log folder beside it; while each
writes, the Monitor follows it offscreen. Saves
``docs/screenshots/launcher-script.png`` (the form and its exact command),
``docs/screenshots/monitor-script-memory.png`` (the DDP script's per-rank
memory) and ``docs/screenshots/monitor-tensorboard.png`` (the TensorBoard log's
curves and its image as the sample), each taken while the script writes.

    python tools/script_screenshots.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools._offscreen import open_window  # noqa: E402


def main() -> None:
    from backends import launch
    from backends.runs import RunDir

    app, window, wait = open_window()
    monitor = window.panels["monitor"]
    runs = monitor.context.runs_dir
    out = ROOT / "docs" / "screenshots"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    window.show_panel("monitor")

    launcher = window.panels["training"]
    window.show_panel("training")
    wait(lambda: launcher.prepared is not None and not launcher.is_busy(), 120)
    launcher.load_preset("Your script…")
    form = launcher.script_form
    form.set_script(ROOT / "examples" / "ddp_train.py")
    form.args_edit.setText("--steps 3000")
    form.strategy_box.setCurrentText("ddp")
    form.nproc_spin.setValue(2)
    form.name_edit.setText("ddp-sine")
    wait(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy(), 60)
    wait(lambda: False, 1.0)
    window.grab().save(str(out / "launcher-script.png"))
    launcher.launch()
    wait(lambda: launcher.current_run is not None, 60)
    run = RunDir(launcher.current_run)
    window.show_panel("monitor")
    metrics = lambda: monitor.runs[run.path].metrics if run.path in monitor.runs else None  # noqa: E731
    wait(lambda: metrics() is not None and len(metrics().ranks("memory", "rss")) == 2
         and (metrics().last_step or 0) >= 600, 240)
    monitor.tabs.setCurrentWidget(monitor.memory_tab)
    wait(lambda: False, 1.0)
    window.grab().save(str(out / "monitor-script-memory.png"))  # while it trains
    launch.stop(run)  # Stop: the script checkpoints and returns
    launch.wait(run, timeout=240)

    log = runs / "tb-sine"
    tb = subprocess.Popen([sys.executable, str(ROOT / "examples" / "tensorboard_only.py"),
                           "--logdir", str(log), "--steps", "600", "--delay", "0.02"], env=env)
    wait(lambda: log.is_dir() and any(log.iterdir()), 120)
    window.context.events.sig_run_opened.emit(log)
    monitor.tabs.setCurrentWidget(monitor.training_tab)
    wait(lambda: log in monitor.runs and (monitor.runs[log].metrics.last_step or 0) >= 320, 240)
    wait(lambda: monitor.sample_preview.is_image(), 10)
    wait(lambda: False, 1.0)
    window.grab().save(str(out / "monitor-tensorboard.png"))
    tb.wait(120)
    print(f"wrote {out / 'monitor-script-memory.png'} and {out / 'monitor-tensorboard.png'}")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main()
