"""Launch a real 2-process DDP run from the launcher offscreen and save README screenshots.

Writes ``docs/screenshots/launcher.png`` (the launcher with the run's command, its
run selected) and ``docs/monitor.png`` (the monitor while the run trains), then
stops the run::

    python tools/training_screenshots.py [--seconds 40]
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
    parser.add_argument("--seconds", type=float, default=40, help="how long the run trains first")
    args = parser.parse_args()

    from backends import launch
    from backends.runs import open_run

    app, window, wait = open_window()
    launcher, monitor = window.panels["training"], window.panels["monitor"]
    fill_ddp_form(launcher, wait, steps=3000)
    wait(lambda: launcher.launch_button.isEnabled() and not launcher.is_busy(), 60)
    launcher.launch()
    wait(lambda: launcher.current_run is not None, 60)
    run = open_run(launcher.current_run)
    try:
        window.show_panel("training")
        wait(lambda: False, 3)
        out = ROOT / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out / "launcher.png"))
        window.show_panel("monitor")
        wait(lambda: False, args.seconds)
        wait(lambda: not monitor.is_busy(), 10)
        window.grab().save(str(ROOT / "docs" / "monitor.png"))
        print(f"wrote {out / 'launcher.png'} and {ROOT / 'docs' / 'monitor.png'}")
    finally:
        launch.stop(run)
        launch.wait(run, timeout=60)
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
