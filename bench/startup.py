"""Time from process start to the main window shown, against a bare PySide6 window.

Runs ``python -m workbench`` offscreen with WORKBENCH_EXIT_WHEN_SHOWN set (the
app prints the moment its window is shown, then quits) and, as the peer in the
same run, a process that imports PySide6 and shows an empty QMainWindow. Prints
medians over several runs and the ratio. Goal: workbench ≤ 1.5 s on 2 cores.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PEER = (
    "import time\n"
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "from PySide6.QtCore import QTimer\n"
    "app = QApplication([])\n"
    "w = QMainWindow(); w.resize(1280, 800); w.show()\n"
    "QTimer.singleShot(0, lambda: (print(f'shown {time.time():.6f}', flush=True), app.quit()))\n"
    "app.exec()\n"
)


def time_to_shown(command: list[str], env: dict[str, str]) -> float:
    start = time.time()
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120).stdout
    shown = [line for line in out.splitlines() if line.startswith("shown ")]
    if not shown:
        raise RuntimeError(f"{command} never reported its window: {out!r}")
    return float(shown[-1].split()[1]) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_EXIT_WHEN_SHOWN="1",
                   WORKBENCH_SETTINGS=os.path.join(tmp, "settings.ini"))
        app_cmd = [sys.executable, "-m", "workbench", "--runs-dir", os.path.join(tmp, "runs")]
        peer_cmd = [sys.executable, "-c", PEER]
        time_to_shown(app_cmd, env)  # warm the file cache once, as a second launch would be
        app, peer = [], []
        for _ in range(args.runs):
            app.append(time_to_shown(app_cmd, env))
            peer.append(time_to_shown(peer_cmd, env))
    a, p = statistics.median(app), statistics.median(peer)
    print(f"workbench window shown: median {a:.3f} s (min {min(app):.3f}, max {max(app):.3f})")
    print(f"bare PySide6 window:    median {p:.3f} s (min {min(peer):.3f}, max {max(peer):.3f})")
    print(f"ratio workbench / bare: {a / p:.2f}x   goal: workbench <= 1.5 s -> "
          f"{'met' if a <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
