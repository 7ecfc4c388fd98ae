"""Screenshots of the planner: the launcher's planner pane, and the predicted line during a real run.

Writes ``docs/screenshots/planner.png`` (the launcher with gpt-tiny, DDP on 2
processes, and its planner table) and ``docs/screenshots/memory-predicted.png``
(the monitor's memory plots of that run while it trains, with the planner's
prediction as a dashed line), then stops the run::

    python tools/planner_screenshots.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from _offscreen import fill_ddp_form, open_window  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="how long the run trains first")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()

    from backends import launch
    from backends.runs import open_run

    app, window, wait = open_window()
    launcher, monitor = window.panels["training"], window.panels["monitor"]
    window.show_panel("training")
    fill_ddp_form(launcher, wait, steps=2000)
    wait(lambda: False, 0.3)
    wait(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy()
         and launcher.planner.result is not None and launcher.planner.result.world_size == 2, 60)
    args.out.mkdir(parents=True, exist_ok=True)
    wait(lambda: False, 0.5)
    window.grab().save(str(args.out / "planner.png"))
    launcher.launch()
    wait(lambda: launcher.current_run is not None, 60)
    run = open_run(launcher.current_run)
    try:
        window.show_panel("monitor")
        monitor.tabs.setCurrentWidget(monitor.memory_tab)
        wait(lambda: monitor.memory_boxes[1].count() > 0, 120)
        monitor.memory_boxes[0].setCurrentText("param_bytes")
        monitor.memory_boxes[1].setCurrentText("tensor_bytes")
        wait(lambda: False, args.seconds)
        wait(lambda: not monitor.is_busy(), 10)
        print("references:", {k: (r.value, r.label) for k, r in
                              monitor.memory_plots[1].references().items()})
        window.grab().save(str(args.out / "memory-predicted.png"))
        print(f"wrote {args.out / 'planner.png'} and {args.out / 'memory-predicted.png'}")
    finally:
        launch.stop(run)
        launch.wait(run, timeout=60)
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
