"""Screenshots of the Monitor watching a user's own script and a TensorBoard log.

Runs ``examples/ddp_train.py`` under torchrun with 2 processes (CPU, loopback
rendezvous) into a run folder of a fresh runs folder, and
``examples/tensorboard_only.py`` into a log folder beside it; while each
writes, the Monitor follows it offscreen. Saves
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
    from backends.runs import create_run

    app, window, wait = open_window()
    monitor = window.panels["monitor"]
    runs = monitor.context.runs_dir
    out = ROOT / "docs" / "screenshots"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    window.show_panel("monitor")

    run = create_run(runs, "ddp-sine", {"source": "script", "script": "examples/ddp_train.py",
                                        "nproc": 2, "strategy": "ddp", "steps": 3000})
    ddp = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0",
         str(ROOT / "examples" / "ddp_train.py"), "--steps", "3000"],
        env={**env, "WORKBENCH_RUN_DIR": str(run.path)}, cwd=ROOT)
    window.context.events.sig_run_opened.emit(run.path)
    metrics = lambda: monitor.runs[run.path].metrics if run.path in monitor.runs else None  # noqa: E731
    wait(lambda: metrics() is not None and len(metrics().ranks("memory", "rss")) == 2
         and (metrics().last_step or 0) >= 600, 240)
    monitor.tabs.setCurrentWidget(monitor.memory_tab)
    wait(lambda: False, 1.0)
    window.grab().save(str(out / "monitor-script-memory.png"))  # while it trains
    (run.path / "stop").write_text("")  # Stop: the script checkpoints and returns
    ddp.wait(240)

    log = runs / "tb-sine"
    tb = subprocess.Popen([sys.executable, str(ROOT / "examples" / "tensorboard_only.py"),
                           "--logdir", str(log), "--steps", "600", "--delay", "0.02"], env=env)
    wait(lambda: log.is_dir() and any(log.iterdir()), 120)
    window.context.events.sig_run_opened.emit(log)
    monitor.tabs.setCurrentIndex(0)
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
