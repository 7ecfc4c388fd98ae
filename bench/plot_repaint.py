"""Repaint time of a 1,000,000-point curve in the monitor panel, against matplotlib (Agg).

The monitor side: a MonitorPanel shown offscreen at 1400x900 with one run
whose loss series holds N points; each frame replaces the series' values (one
of four random walks, so every frame really changes), lets the panel's redraw
hand the data to the curve, and paints the loss plot (``grab()``, a full
render). The peer, in the same process: a matplotlib Agg figure of the loss
plot's size doing ``set_data`` + ``relim`` + ``autoscale_view`` + ``draw()``.
Medians over the frames after two warm-up frames, several rounds; prints the
ratio. Goal: ≤ 20 ms per frame and ≥ 5x faster than matplotlib.

An advantage measured on purpose: the monitor draws the curve peak-downsampled
to the plot's pixel width (pyqtgraph's ``peak`` mode, what the live monitor
does), while the plain matplotlib peer draws every point. The fair peer beside
it downsamples the same way in numpy (min and max per pixel column, timed with
the frame) and draws that, so the ratio against it is the drawing engine alone.

matplotlib is not a dependency of the workbench: ``pip install matplotlib``
to run this.

    python bench/plot_repaint.py [--points 1000000] [--frames 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def walks(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.cumsum(rng.standard_normal(n)) + 100.0 for _ in range(4)]


def monitor_frames(n: int, frames: int) -> tuple[list[float], tuple[int, int]]:
    """Frame times of the monitor's loss plot, and the plot's size in pixels."""
    from backends.monitor_data import GrowingArray, Series
    from backends.runs import create_run, record_event
    from panels.monitor.panel import MonitorPanel
    from workbench.app import application
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        run = create_run(Path(tmp), "repaint", {"model": "gpt", "steps": n})
        record_event(run, "started", step=0)
        panel = MonitorPanel(AppContext(Path(tmp), AppSettings()))
        panel.resize(1400, 900)
        panel.show()
        panel.redraw_timer.stop()  # frames are driven here, one redraw each
        panel.select_runs([run.path])
        metrics = panel.runs[run.path].metrics
        steps = np.arange(1, n + 1, dtype=np.float64)
        ys = walks(n)
        # Four value arrays to swap in, so a frame changes the data without copying it.
        values = []
        for y in ys:
            array = GrowingArray(n)
            array.extend(y)
            values.append(array)
        series = Series()
        series.extend(steps, steps * 0.01, ys[0])
        metrics.series[("train", "loss", 0)] = series
        metrics.version += 1
        plot = panel.plots["loss"]
        times: list[float] = []
        for frame in range(frames + 2):
            app.processEvents()
            start = time.perf_counter()
            series.value = values[frame % 4]
            series.version += 1
            panel.redraw()
            plot.grab()
            elapsed = time.perf_counter() - start
            if frame >= 2:
                times.append(elapsed)
        x, y = plot.curve_data("repaint|train|loss|0")
        assert len(x) == n and np.array_equal(y, ys[(frames + 1) % 4]), "the curve lost points"
        size = plot.width(), plot.height()
        panel.shutdown()
        panel.close()
    return times, size


def peak_downsample(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` in each of ``columns`` equal slices, interleaved (pyqtgraph's peak mode)."""
    per = max(1, len(y) // columns)
    usable = per * (len(y) // per)
    blocks = y[:usable].reshape(-1, per)
    xs = x[:usable:per]
    return np.repeat(xs, 2), np.stack([blocks.min(1), blocks.max(1)], axis=1).reshape(-1)


def matplotlib_frames(
    n: int, frames: int, size: tuple[int, int], downsample: bool = False
) -> list[float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    x = np.arange(1, n + 1, dtype=np.float64)
    ys = walks(n)
    (line,) = ax.plot(x, ys[0], linewidth=1)
    ax.set_title("Loss")
    times = []
    for frame in range(frames + 2):
        start = time.perf_counter()
        if downsample:
            line.set_data(*peak_downsample(x, ys[frame % 4], size[0]))
        else:
            line.set_data(x, ys[frame % 4])
        ax.relim()
        ax.autoscale_view()
        fig.canvas.draw()
        elapsed = time.perf_counter() - start
        if frame >= 2:
            times.append(elapsed)
    plt.close(fig)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("WORKBENCH_SETTINGS", os.path.join(tempfile.mkdtemp(), "bench.ini"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("matplotlib is the peer of this benchmark: pip install matplotlib")

    ours, theirs, fair = [], [], []
    for _ in range(args.rounds):
        times, size = monitor_frames(args.points, args.frames)
        ours.append(statistics.median(times) * 1000)
        theirs.append(statistics.median(matplotlib_frames(args.points, args.frames, size)) * 1000)
        fair.append(statistics.median(
            matplotlib_frames(args.points, args.frames, size, downsample=True)) * 1000)
    mine, peer, fair_peer = (statistics.median(v) for v in (ours, theirs, fair))
    print(f"{args.points:,} points, plot {size[0]}x{size[1]} px, median of {args.frames} frames "
          f"x {args.rounds} rounds")
    print(f"monitor (setData + redraw + paint): {mine:.1f} ms  (rounds: "
          f"{', '.join(f'{t:.1f}' for t in ours)})  goal <= 20 ms")
    print(f"matplotlib Agg (set_data + relim + draw): {peer:.1f} ms  (rounds: "
          f"{', '.join(f'{t:.1f}' for t in theirs)})")
    print(f"matplotlib Agg, peak-downsampled in numpy first (the fair peer): {fair_peer:.1f} ms  "
          f"(rounds: {', '.join(f'{t:.1f}' for t in fair)})")
    print(f"ratio matplotlib (every point) / monitor (downsampled): {peer / mine:.1f}x  (goal >= 5x)")
    print(f"ratio matplotlib (downsampled) / monitor (downsampled): {fair_peer / mine:.1f}x")


if __name__ == "__main__":
    main()
