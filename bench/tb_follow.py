"""TensorBoard logs in the monitor: follow latency and the time to open a million scalars.

Follow: a writer process logs ``loss`` at ``--hz`` for ``--seconds``, while the
monitor panel shows the run offscreen; after every redraw the new points of
the loss curve are matched with their write time (the event's ``wall_time``,
or the client record's ``t``): latency = point in the curve's data minus write
time. Three writers, one after the other: torch's ``SummaryWriter`` read by the
monitor; the workbench client (``backends.client``) read by the monitor; and
the same ``SummaryWriter`` log followed by tensorboard's ``EventAccumulator``
calling ``Reload()`` at the monitor's poll interval (its own UI reloads every
5 s), as the peer.

Open: a log of 1,000,000 scalars (4 tags, 2 as ``simple_value`` and 2 as
``scalars``-plugin tensors), written with tensorboard's ``RecordWriter``, is read
to numbers by the monitor's path (``TensorBoardReader`` + ``RunMetrics``,
CRC-checked) and by ``EventAccumulator`` keeping every scalar
(``size_guidance`` 0) with its values decoded; both must agree.
Goals: follow p95 ≤ 0.2 s; open ≥ 10x faster than EventAccumulator.

    python bench/tb_follow.py [--seconds 8] [--hz 20] [--scalars 1000000]
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

TB_WRITER = r"""
import sys, time
from torch.utils.tensorboard import SummaryWriter
folder, hz, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
writer = SummaryWriter(log_dir=folder)
start, step = time.time() + 0.5, 0
while True:
    due = start + step / hz
    if due > start + seconds:
        break
    time.sleep(max(0.0, due - time.time()))
    step += 1
    writer.add_scalar("train/loss", 1.0 / step, step)
    writer.flush()
writer.close()
"""

CLIENT_WRITER = r"""
import sys, time
from backends import client
hz, seconds = float(sys.argv[1]), float(sys.argv[2])
run = client.init(memory_interval=0)
start, step = time.time() + 0.5, 0
while True:
    due = start + step / hz
    if due > start + seconds:
        break
    time.sleep(max(0.0, due - time.time()))
    step += 1
    run.log(step, loss=1.0 / step)
run.finish()
"""


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no points"
    a = np.array(values)
    return (f"n={len(a)}  p50 {np.percentile(a, 50) * 1000:.0f} ms  "
            f"p95 {np.percentile(a, 95) * 1000:.0f} ms  max {a.max() * 1000:.0f} ms")


def follow_in_monitor(app, folder: Path, runs: Path, writer: list[str], env: dict, seconds: float,
                      expected: int) -> list[float]:
    from PySide6.QtCore import QTimer

    from panels.monitor.panel import MonitorPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    panel = MonitorPanel(AppContext(runs, AppSettings()))
    panel.resize(1400, 900)
    panel.show()
    latencies: list[float] = []
    seen = [0]

    def on_redraw() -> None:
        now = time.time()
        plot = panel.plots["loss"]
        for key in plot.curve_keys():
            x, _ = plot.curve_data(key)
            if len(x) > seen[0]:
                series = plot.curve_spec(key).series
                latencies.extend(now - series.time.view[seen[0] : len(x)])
                seen[0] = len(x)

    panel.sig_plots_updated.connect(on_redraw)
    process = subprocess.Popen(writer, env=env)
    folder.mkdir(parents=True, exist_ok=True)
    panel.select_runs([folder])
    deadline = time.time() + seconds + 30

    def check() -> None:
        if (process.poll() is not None and seen[0] >= expected) or time.time() > deadline:
            app.quit()

    checker = QTimer()
    checker.setInterval(100)
    checker.timeout.connect(check)
    checker.start()
    app.exec()
    checker.stop()
    process.wait(30)
    panel.shutdown()
    panel.deleteLater()
    return latencies


def follow_with_accumulator(folder: Path, writer: list[str], env: dict, seconds: float,
                            expected: int, interval: float) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    process = subprocess.Popen(writer, env=env)
    latencies: list[float] = []
    while not folder.is_dir() or not any(folder.iterdir()):
        time.sleep(0.01)
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    seen = 0
    deadline = time.time() + seconds + 30
    while time.time() < deadline:
        accumulator.Reload()
        now = time.time()
        scalars = accumulator.Scalars("train/loss") if "train/loss" in accumulator.Tags()["scalars"] \
            else []
        latencies.extend(now - e.wall_time for e in scalars[seen:])
        seen = len(scalars)
        if process.poll() is not None and seen >= expected:
            break
        time.sleep(interval)
    process.wait(30)
    return latencies


def write_big_log(folder: Path, scalars: int) -> Path:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder.mkdir(parents=True)
    path = folder / f"events.out.tfevents.{int(time.time())}.bench"
    rng = np.random.default_rng(0)
    steps = scalars // 4
    values = rng.normal(size=(steps, 4)).astype(np.float32)
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        writer.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
                     .SerializeToString())
        for step in range(steps):
            t = 1.7e9 + step * 0.01
            for i in range(4):
                if i < 2:
                    value = summary_pb2.Summary.Value(tag=f"simple_{i}", simple_value=values[step, i])
                else:
                    value = summary_pb2.Summary.Value(
                        tag=f"tensor_{i}",
                        tensor=tensor_pb2.TensorProto(dtype=1, float_val=[values[step, i]]))
                    value.metadata.plugin_data.plugin_name = "scalars"
                writer.write(event_pb2.Event(wall_time=t, step=step, summary=summary_pb2.Summary(
                    value=[value])).SerializeToString())
        writer.flush()
    return path


def open_ours(folder: Path) -> dict[str, np.ndarray]:
    from backends.monitor_data import RunMetrics
    from backends.tensorboard.reader import TensorBoardReader

    metrics = RunMetrics()
    metrics.add_records(0, TensorBoardReader(folder, write_samples=False).read_records())
    return {name: metrics.get(kind, name, 0).value.view
            for kind, names in metrics.kinds().items() for name in names}


def open_accumulator(folder: Path) -> dict[str, np.ndarray]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    out = {tag: np.array([e.value for e in accumulator.Scalars(tag)])
           for tag in accumulator.Tags()["scalars"]}
    for tag in accumulator.Tags()["tensors"]:
        out[tag] = np.array([float(tensor_util.make_ndarray(e.tensor_proto))
                             for e in accumulator.Tensors(tag)])
    return out


def compare_open(big: Path, scalars: int) -> None:
    """Write a log of ``scalars`` scalars into ``big``, open it both ways, check they agree."""
    t0 = time.perf_counter()
    path = write_big_log(big, scalars)
    print(f"wrote {scalars:,} scalars ({path.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - t0:.1f} s")
    # Wall time and this process's CPU time: on a shared machine the CPU time is the steadier.
    t0, c0 = time.perf_counter(), time.process_time()
    mine = open_ours(big)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"open, monitor (TensorBoardReader + RunMetrics, CRC checked): {ours_s:.2f} s "
          f"(cpu {ours_cpu:.2f} s)")
    t0, c0 = time.perf_counter(), time.process_time()
    theirs = open_accumulator(big)
    peer_s, peer_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"open, EventAccumulator (all kept, values decoded):        {peer_s:.2f} s "
          f"(cpu {peer_cpu:.2f} s)")
    assert set(mine) == set(theirs), (sorted(mine), sorted(theirs))
    for tag in mine:
        assert np.array_equal(mine[tag].astype(np.float32), theirs[tag].astype(np.float32)), tag
    print(f"same {sum(len(v) for v in mine.values()):,} values; ratio {peer_s / ours_s:.1f}x "
          f"wall, {peer_cpu / ours_cpu:.1f}x cpu (goal >= 10x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--hz", type=float, default=20.0)
    parser.add_argument("--scalars", type=int, default=1_000_000)
    parser.add_argument("--skip-open", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("WORKBENCH_SETTINGS", os.path.join(tempfile.mkdtemp(), "bench.ini"))
    from backends.runs import create_run
    from workbench.app import application

    app = application()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    expected = int(args.seconds * args.hz)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        os.environ["WORKBENCH_CACHE_DIR"] = str(Path(tmp) / "cache")

        folder = runs / "tb"
        tb = follow_in_monitor(app, folder, runs, [sys.executable, "-c", TB_WRITER, str(folder),
                               str(args.hz), str(args.seconds)], env, args.seconds, expected)
        print(f"follow, SummaryWriter file -> monitor curve:      {_percentiles(tb)}")

        run = create_run(runs, "client", {"source": "script"})
        client_env = {**env, "WORKBENCH_RUN_DIR": str(run.path)}
        ours = follow_in_monitor(app, run.path, runs, [sys.executable, "-c", CLIENT_WRITER,
                                 str(args.hz), str(args.seconds)], client_env, args.seconds,
                                 expected)
        print(f"follow, workbench client -> monitor curve:        {_percentiles(ours)}")

        peer_folder = runs / "tb-peer"
        peer = follow_with_accumulator(peer_folder, [sys.executable, "-c", TB_WRITER,
                                       str(peer_folder), str(args.hz), str(args.seconds)], env,
                                       args.seconds, expected, 0.05)
        print(f"follow, SummaryWriter file -> EventAccumulator:   {_percentiles(peer)}  "
              "(Reload every 0.05 s; TensorBoard's UI: 5 s)")

        if not args.skip_open:
            compare_open(Path(tmp) / "big", args.scalars)


if __name__ == "__main__":
    main()
