"""Latency from a metric record's write to its point in the monitor's curve data, and GUI stalls.

Four writer processes (ranks 0-3) append records to one run folder at 100 Hz
each, with ``backends.runs.MetricsWriter``, while the monitor panel shows the
run offscreen (and paints it). After every redraw the new points of each
per-rank memory curve are matched with their write time
(``t`` in the record): latency = moment the point is in the curve's data minus
the write time. A 5 ms QTimer measures the longest event-loop stall (its
largest gap beyond 5 ms). Goals: p95 ≤ 0.2 s, stall ≤ 50 ms.

    python bench/metric_latency.py [--seconds 10] [--writers 4] [--hz 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

WRITER = r"""
import sys, time
from pathlib import Path
from backends.runs import MetricsWriter, RunDir
run, rank, hz, seconds = RunDir(Path(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
start = time.time() + 0.5
step = 0
with MetricsWriter(run, rank) as w:
    while True:
        due = start + step / hz          # a fixed schedule: exactly `hz` records per second
        now = time.time()
        if due > now:
            time.sleep(due - now)
        if due > start + seconds:
            break
        step += 1
        w.write(step, "train", loss=1.0 / step, lr=1e-3, grad_norm=1.0, step_time=0.01)
        w.write(step, "memory", rss=2**28 + step, param_bytes=4096, grad_bytes=4096, optim_bytes=8192)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--hz", type=float, default=100.0)
    args = parser.parse_args()

    os.environ.setdefault("WORKBENCH_SETTINGS", os.path.join(tempfile.mkdtemp(), "bench.ini"))
    from PySide6.QtCore import QTimer

    from backends.runs import create_run, record_event
    from panels.monitor.panel import MonitorPanel
    from workbench.app import application
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        run = create_run(Path(tmp), "latency", {"model": "gpt", "strategy": "ddp",
                                                "nproc": args.writers, "steps": 100000})
        record_event(run, "started", step=0)
        context = AppContext(Path(tmp), AppSettings())
        panel = MonitorPanel(context)
        panel.resize(1400, 900)
        panel.show()
        panel.select_runs([run.path])
        panel.tabs.setCurrentIndex(1)  # the per-rank memory plots are painted

        latencies: list[float] = []
        seen: dict[str, int] = {}

        def on_redraw() -> None:
            now = time.time()
            for plot in panel.memory_plots[:1]:  # rss: one curve per rank
                for key in plot.curve_keys():
                    x, _ = plot.curve_data(key)
                    before = seen.get(key, 0)
                    if len(x) > before:
                        series = plot._curves[key].spec.series
                        latencies.extend(now - series.time.view[before : len(x)])
                        seen[key] = len(x)

        panel.sig_plots_updated.connect(on_redraw)

        # Let the panel paint once before measuring: start-up is not what this measures.
        settle = time.time() + 1.0
        while time.time() < settle:
            app.processEvents()
            time.sleep(0.005)

        gaps: list[float] = []  # every gap of the probe timer
        steady_gaps: list[float] = []  # once every writer's records are arriving
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            # Four Python interpreters booting on two cores take the CPU from everything for a
            # moment; that is the writers' start, not the monitor's work, so it is shown apart.
            if len(seen) >= args.writers and all(seen.values()):
                steady_gaps.append(now - last[0])
            last[0] = now

        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(tick)
        probe.start()

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, str(run.path), str(rank), str(args.hz),
                              str(args.seconds)], env=env)
            for rank in range(args.writers)
        ]
        deadline = time.time() + args.seconds + 15
        expected = int(args.seconds * args.hz)

        def check_done() -> None:
            done = all(w.poll() is not None for w in writers)
            if (done and sum(seen.values()) >= expected * args.writers) or (
                time.time() > deadline
            ):
                app.quit()

        cpu_start, wall_start = time.thread_time(), time.perf_counter()
        checker = QTimer()
        checker.setInterval(100)
        checker.timeout.connect(check_done)
        checker.start()
        app.exec()  # the real event loop, as in the app
        gui_cpu = (time.thread_time() - cpu_start) / (time.perf_counter() - wall_start)
        checker.stop()
        probe.stop()
        panel.shutdown()
        for w in writers:
            w.wait()
        panel.close()

    lat = np.array(latencies) * 1000
    stall = (max(steady_gaps) - 0.005) * 1000 if steady_gaps else float("nan")
    stall_all = (max(gaps) - 0.005) * 1000 if gaps else float("nan")
    # The first gaps include start-up (panel construction happens before the probe).
    points = len(lat)
    print(f"writers: {args.writers} x {args.hz:.0f} Hz for {args.seconds:.0f} s; "
          f"points checked: {points} (expected {expected * args.writers})")
    print(f"write -> in curve data latency: p50 {np.percentile(lat, 50):.1f} ms, "
          f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms  (goal p95 <= 200 ms)")
    print(f"longest event-loop stall while records stream: {stall:.1f} ms  (goal <= 50 ms); "
          f"p99 gap {np.percentile(np.array(steady_gaps) * 1000, 99):.1f} ms; "
          f"including the writers' start-up: {stall_all:.1f} ms")
    print(f"GUI thread CPU while the writers ran: {gui_cpu * 100:.0f}% of one core; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"ratio p95 / goal: {np.percentile(lat, 95) / 200:.2f}; stall / goal: {stall / 50:.2f}")


if __name__ == "__main__":
    main()
