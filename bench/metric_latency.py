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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Measured:
    """What one measurement found."""

    latencies: list[float] = field(default_factory=list)  # write -> in curve data, seconds
    gaps: list[float] = field(default_factory=list)  # every gap of the 5 ms probe timer
    steady_gaps: list[float] = field(default_factory=list)  # once every writer's records arrive
    seen: dict[str, int] = field(default_factory=dict)  # points matched, by curve
    gui_cpu: float = 0.0  # the GUI thread's CPU time over wall time while the writers ran


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--hz", type=float, default=100.0)
    return parser.parse_args()


def open_monitor(runs_dir: Path, writers: int) -> tuple[Any, Path]:
    """A run for the writers, shown in a Monitor panel on its memory tab (painted)."""
    from backends.runs import create_run, record_event
    from panels.monitor.panel import MonitorPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    run = create_run(runs_dir, "latency", {"model": "gpt", "strategy": "ddp", "nproc": writers,
                                           "steps": 100000})
    record_event(run, "started", step=0)
    panel = MonitorPanel(AppContext(runs_dir, AppSettings()))
    panel.resize(1400, 900)
    panel.show()
    panel.select_runs([run.path])
    panel.tabs.setCurrentWidget(panel.memory_tab)  # the per-rank memory plots are painted
    return panel, run.path


def match_latencies(panel: Any, measured: Measured) -> None:
    """After every redraw: the new points of the rss curves against their write times."""
    def on_redraw() -> None:
        now = time.time()
        for plot in panel.memory_plots[:1]:  # rss: one curve per rank
            for key in plot.curve_keys():
                x, _ = plot.curve_data(key)
                before = measured.seen.get(key, 0)
                if len(x) > before:
                    series = plot.curve_spec(key).series
                    measured.latencies.extend(now - series.time.view[before : len(x)])
                    measured.seen[key] = len(x)

    panel.sig_plots_updated.connect(on_redraw)


def settle(app: Any, seconds: float) -> None:
    """Let the panel paint before measuring: start-up is not what this measures."""
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.005)


def stall_probe(measured: Measured, writers: int) -> Any:
    """A started 5 ms timer that records the event loop's gaps."""
    from PySide6.QtCore import QTimer

    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        measured.gaps.append(now - last[0])
        # Four Python interpreters booting on two cores take the CPU from everything for a
        # moment; that is the writers' start, not the monitor's work, so it is shown apart.
        if len(measured.seen) >= writers and all(measured.seen.values()):
            measured.steady_gaps.append(now - last[0])
        last[0] = now

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    probe.start()
    return probe


def run_writers(app: Any, run_path: Path, args: argparse.Namespace, measured: Measured) -> None:
    """Start the writer processes and run the event loop until their records are all drawn."""
    from PySide6.QtCore import QTimer

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(run_path), str(rank), str(args.hz),
                          str(args.seconds)], env=env)
        for rank in range(args.writers)
    ]
    deadline = time.time() + args.seconds + 15
    expected = int(args.seconds * args.hz) * args.writers

    def check_done() -> None:
        done = all(w.poll() is not None for w in writers)
        if (done and sum(measured.seen.values()) >= expected) or time.time() > deadline:
            app.quit()

    cpu_start, wall_start = time.thread_time(), time.perf_counter()
    checker = QTimer()
    checker.setInterval(100)
    checker.timeout.connect(check_done)
    checker.start()
    app.exec()  # the real event loop, as in the app
    measured.gui_cpu = (time.thread_time() - cpu_start) / (time.perf_counter() - wall_start)
    checker.stop()
    for w in writers:
        w.wait()


def report(measured: Measured, args: argparse.Namespace) -> None:
    lat = np.array(measured.latencies) * 1000
    steady = measured.steady_gaps
    stall = (max(steady) - 0.005) * 1000 if steady else float("nan")
    # The first gaps include start-up (panel construction happens before the probe).
    stall_all = (max(measured.gaps) - 0.005) * 1000 if measured.gaps else float("nan")
    expected = int(args.seconds * args.hz)
    print(f"writers: {args.writers} x {args.hz:.0f} Hz for {args.seconds:.0f} s; "
          f"points checked: {len(lat)} (expected {expected * args.writers})")
    print(f"write -> in curve data latency: p50 {np.percentile(lat, 50):.1f} ms, "
          f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms  (goal p95 <= 200 ms)")
    print(f"longest event-loop stall while records stream: {stall:.1f} ms  (goal <= 50 ms); "
          f"p99 gap {np.percentile(np.array(steady) * 1000, 99):.1f} ms; "
          f"including the writers' start-up: {stall_all:.1f} ms")
    print(f"GUI thread CPU while the writers ran: {measured.gui_cpu * 100:.0f}% of one core; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"ratio p95 / goal: {np.percentile(lat, 95) / 200:.2f}; stall / goal: {stall / 50:.2f}")


def main() -> None:
    args = parse_args()
    os.environ.setdefault("WORKBENCH_SETTINGS", os.path.join(tempfile.mkdtemp(), "bench.ini"))
    from workbench.app import application

    app = application()
    measured = Measured()
    with tempfile.TemporaryDirectory() as tmp:
        panel, run_path = open_monitor(Path(tmp), args.writers)
        match_latencies(panel, measured)
        settle(app, 1.0)
        probe = stall_probe(measured, args.writers)
        run_writers(app, run_path, args, measured)
        probe.stop()
        panel.shutdown()
        panel.close()
    report(measured, args)


if __name__ == "__main__":
    main()
