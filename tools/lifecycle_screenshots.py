"""Four real runs ended four ways, shown side by side in the Monitor with a checkpoint list.

Starts four 2-process DDP runs of gpt-tiny through the launch service and
ends them as a user (or the machine) would: Kill, Stop, a rank killed with
SIGKILL (failed), and every process killed at once so nothing records an end
(lost). Writes ``docs/screenshots/monitor-states.png`` (the runs list and the
killed run's curves) and ``docs/screenshots/monitor-checkpoints.png`` (its
Checkpoints tab)::

    python tools/lifecycle_screenshots.py
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from _offscreen import open_window  # noqa: E402


def _run_until(runs: Path, name: str, step: int):
    from backends import launch
    from backends.runs import JsonlTail
    from backends.train.config import TrainConfig
    from resources import resource_path

    preset = resource_path("presets", "gpt-tiny.toml").read_text(encoding="utf-8")
    import tomllib

    config = TrainConfig.from_dict({**tomllib.loads(preset), "name": name, "strategy": "ddp",
                                    "nproc": 2, "steps": 100000, "checkpoint_every": 40})
    info = launch.launch(config, runs)
    tail = JsonlTail(info.run.metrics_path(0))
    reached = 0
    while reached < step:
        reached = max([r.get("step", 0) for r in tail.read_new()] + [reached])
        time.sleep(0.1)
    return info


def main() -> int:
    from backends import launch

    runs = Path(tempfile.mkdtemp(prefix="workbench-states-")) / "runs"
    killed = _run_until(runs, "killed-by-user", 130)
    launch.kill(killed.run)
    stopped = _run_until(runs, "stopped-gracefully", 90)
    launch.stop(stopped.run)
    launch.wait(stopped, timeout=60)
    failed = _run_until(runs, "rank-1-crashed", 70)
    os.kill(launch.read_run_info(failed.run)["workers"]["1"]["pid"], signal.SIGKILL)
    launch.wait(failed, timeout=60)
    lost = _run_until(runs, "machine-lost", 50)
    pids = [lost.pid] + [w["pid"] for w in launch.read_run_info(lost.run)["workers"].values()]
    for pid in pids:  # all at once, as a power cut would: nobody records an end
        os.killpg(pid, signal.SIGKILL)
    launch.wait(lost, timeout=30)

    from workbench.app import build_window
    from workbench.settings import AppSettings

    app, window, wait = open_window()
    window.close()
    window = build_window(runs, AppSettings(runs.parent / "settings.ini"))
    window.resize(1500, 940)
    window.show()
    monitor = window.panels["monitor"]
    window.show_panel("monitor")
    wait(lambda: monitor.runs_model.rowCount() == 4 and not monitor.is_busy(), 60)
    monitor.select_runs([killed.run.path])
    wait(lambda: not monitor.is_busy(), 30)
    wait(lambda: False, 2)
    out = ROOT / "docs" / "screenshots"
    window.grab().save(str(out / "monitor-states.png"))
    monitor.tabs.setCurrentWidget(monitor.checkpoints)
    wait(lambda: monitor.checkpoints.run_path == killed.run.path, 30)
    wait(lambda: False, 1)
    window.grab().save(str(out / "monitor-checkpoints.png"))
    states = {monitor.runs_model.summary(r).name: monitor.runs_model.summary(r).status
              for r in range(monitor.runs_model.rowCount())}
    print(states)
    print(f"wrote {out / 'monitor-states.png'} and {out / 'monitor-checkpoints.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
