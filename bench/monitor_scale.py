"""The monitor on a large run: open + draw time and peak memory vs TensorBoard; follow latency.

Writes a synthetic run in the run-folder format (``--ranks`` ranks ×
``--steps`` steps × ``--fields`` numeric fields per ``train`` record; the
issue's scale is 64 × 100,000 × 10), and the same scalars as TensorBoard
event files (one log folder per rank, as DDP jobs write them). Then, each in
a fresh process so peak memory is its own:

- monitor: the Monitor panel (offscreen) opens the run and every plot is
  drawn (``grab()`` paints the window) once every record is in the curves:
  the run as its ranks' writers left it (JSON Lines plus the metric columns
  they keep as they log, see :mod:`backends.runs.columns`); then with the
  columns deleted, as a run from another tool would be (the first opening
  parses the JSON once), and again (from the columns that opening built);
- tensorboard: ``EventAccumulator.Reload()`` of every rank's folder, keeping
  every scalar (``size_guidance`` 0), when ``tensorboard`` is importable;
- writer: one rank's records through ``MetricsWriter`` with and without the
  columns (what keeping them costs a training step);
- runs list: ``--list-runs`` finished runs listed by the launch service, and
  by the Monitor's refresh (:mod:`backends.run_list_cache`);
- follow: ``--ranks`` writer threads append a record every 0.1 s each for
  ``--follow-seconds``; a :class:`~backends.runs.RunReader` polled every 0.1 s
  (the watcher's period) sees each; latency = seen minus written, p95.

Goals (the issue's): open + draw ≤ 2 s, peak ≤ 1 GB, ≥ 5× faster than
``EventAccumulator``; follow p95 under the monitor's 0.2 s latency goal.

    python bench/monitor_scale.py [--ranks 64] [--steps 100000] [--fields 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def field_names(n: int) -> list[str]:
    return ["loss", "lr", "grad_norm", "tokens_per_s", *[f"metric_{i}" for i in range(max(0, n - 4))]][:n]


def write_run(root: Path, ranks: int, steps: int, fields: int) -> Path:
    """The run as the workbench's ranks write it: every record through a rank's MetricsWriter,
    which keeps the rank's metric columns as it logs (see backends.runs.columns)."""
    import numpy as np

    from backends.runs import MetricsWriter, create_run, record_event

    run = create_run(root, "scale", {"model": "gpt", "strategy": "ddp", "nproc": ranks, "steps": steps})
    record_event(run, "started", step=0)
    names = field_names(fields)
    step_numbers = np.arange(1, steps + 1)
    for rank in range(ranks):
        table = np.stack([(1.0 + rank * 0.01) / (1 + step_numbers * 1e-3 * (i + 1))
                          for i in range(len(names))], axis=1).tolist()
        with MetricsWriter(run, rank) as writer:
            for step, row in zip(step_numbers.tolist(), table, strict=True):
                writer.write(step, "train", **dict(zip(names, row, strict=True)))
    record_event(run, "finished", step=steps)
    return run.path


def write_tensorboard(root: Path, ranks: int, steps: int, fields: int) -> Path | None:
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        return None
    names = field_names(fields)
    logs = root / "tb"
    t0 = time.time() - steps
    for rank in range(ranks):
        writer = EventFileWriter(str(logs / f"rank_{rank}"), max_queue_size=100000, flush_secs=3600)
        for step in range(1, steps + 1):
            summary = Summary(value=[Summary.Value(tag=f"train/{n}", simple_value=(1.0 + rank * 0.01)
                                                   / (1 + step * 1e-3 * (i + 1)))
                                     for i, n in enumerate(names)])
            writer.add_event(Event(wall_time=t0 + step, step=step, summary=summary))
        writer.close()
    return logs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_monitor(run_path: Path, expected: int) -> dict:
    from backends.runs import RunDir
    from panels.monitor.panel import MonitorPanel
    from workbench.app import application
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    app = application()
    base_mb = peak_mb()
    panel = MonitorPanel(AppContext(run_path.parent, AppSettings()))
    panel.resize(1400, 900)
    panel.show()
    app.processEvents()
    start = time.perf_counter()
    panel.select_runs([run_path])
    deadline = start + 1800
    while time.perf_counter() < deadline:
        app.processEvents()
        state = panel.runs.get(run_path)
        if state is not None and state.metrics.records >= expected:
            break
        time.sleep(0.002)
    panel.redraw()
    tabs = panel.tabs
    for index in range(tabs.count()):  # every plot of every tab is drawn
        tabs.setCurrentIndex(index)
        app.processEvents()
        panel.grab()
    seconds = time.perf_counter() - start
    records = panel.runs[run_path].metrics.records
    panel.shutdown()
    panel.close()
    del RunDir
    return {"seconds": seconds, "peak_mb": peak_mb(), "gui_base_mb": base_mb, "records": records}


def measure_tensorboard(logs: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    start = time.perf_counter()
    scalars = 0
    for folder in sorted(logs.iterdir()):
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        scalars += sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "scalars": scalars}


def measure_follow(root: Path, ranks: int, seconds: float) -> dict:
    import numpy as np

    from backends.runs import MetricsWriter, RunReader, create_run

    run = create_run(root, "follow", {"model": "gpt", "nproc": ranks})
    stop = threading.Event()

    def write(rank: int) -> None:
        with MetricsWriter(run, rank) as w:
            step = 0
            while not stop.is_set():
                step += 1
                w.write(step, "train", loss=1.0 / step)
                stop.wait(0.1)

    writers = [threading.Thread(target=write, args=(r,), daemon=True, name=f"writer-{r}") for r in range(ranks)]
    for thread in writers:
        thread.start()
    reader = RunReader(run)
    latencies: list[float] = []
    end = time.time() + seconds
    while time.time() < end:
        update = reader.poll()
        now = time.time()
        for records in update.metrics.values():
            latencies.extend(now - r["t"] for r in records)
        time.sleep(0.1)
    stop.set()
    for thread in writers:
        thread.join()
    lat = np.array(latencies)
    return {"p95_s": float(np.percentile(lat, 95)), "median_s": float(np.median(lat)),
            "records": int(lat.size), "writers": ranks}


def measure_writer(root: Path, steps: int, fields: int) -> dict:
    """What keeping the columns costs a rank: one rank's records written with and without them."""
    from backends.runs import MetricsWriter, create_run

    names = field_names(fields)
    seconds = {}
    for columns in (False, True):
        run = create_run(root, f"writer-{columns}", {"model": "gpt"})
        start = time.perf_counter()
        with MetricsWriter(run, 0, columns=columns) as writer:
            for step in range(1, steps + 1):
                writer.write(step, "train", **{n: 1.0 / (step + i) for i, n in enumerate(names)})
        seconds[columns] = time.perf_counter() - start
    return {"plain_s": seconds[False], "columns_s": seconds[True], "records": steps}


def measure_list(root: Path, count: int) -> dict:
    """The runs list with ``count`` runs: the launch service's, and the Monitor's cached one."""
    from backends import launch
    from backends.run_list_cache import RunListCache
    from backends.runs import MetricsWriter, create_run, record_event

    for i in range(count):
        run = create_run(root, f"run-{i:04d}", {"model": "gpt", "nproc": 2, "steps": 100})
        record_event(run, "started", step=0)
        with MetricsWriter(run, 0) as w:
            for step in range(1, 21):
                w.write(step, "train", loss=1.0 / step)
        record_event(run, "finished", step=20)
    t = time.perf_counter()
    plain = len(launch.list_runs(root))
    full = time.perf_counter() - t
    cache = RunListCache()
    cache.list_runs(root)
    t = time.perf_counter()
    cached = len(cache.list_runs(root))
    return {"runs": plain, "list_s": full, "cached_s": time.perf_counter() - t, "cached_runs": cached}


def _child(what: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", what, *args], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--fields", type=int, default=10)
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--list-runs", type=int, default=1000, help="runs in the runs-list measure")
    parser.add_argument("--no-tensorboard", action="store_true",
                        help="skip the TensorBoard comparison (its event files take long to write)")
    parser.add_argument("--keep", type=Path, default=None, help="write the data here and keep it")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "monitor":
        print(json.dumps(measure_monitor(Path(args.args[0]), int(args.args[1]))))
        return
    if args.measure == "tensorboard":
        print(json.dumps(measure_tensorboard(Path(args.args[0]))))
        return
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        run_path = write_run(root / "runs", args.ranks, args.steps, args.fields)
        size = sum(p.stat().st_size for p in (run_path / "metrics").iterdir())
        print(f"wrote {args.ranks} ranks x {args.steps} steps x {args.fields} fields: "
              f"{size / 2**20:.0f} MiB of JSON Lines in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        logs = None if args.no_tensorboard else write_tensorboard(root, args.ranks, args.steps, args.fields)
        if logs is not None:
            print(f"wrote the same as TensorBoard event files in {time.perf_counter() - t:.1f} s", flush=True)
        expected = str(args.ranks * args.steps)
        monitor = _child("monitor", str(run_path), expected)
        print(f"monitor, the run as its ranks left it (columns written while logging): open + draw "
              f"every plot {monitor['seconds']:.2f} s, peak {monitor['peak_mb']:.0f} MB "
              f"(GUI alone {monitor['gui_base_mb']:.0f} MB), {monitor['records']} records "
              f"(goals: <= 2 s, <= 1024 MB)", flush=True)
        shutil.rmtree(run_path / "metrics" / ".columns")  # as a run from another tool would be
        first = _child("monitor", str(run_path), expected)
        print(f"monitor, JSON Lines only (no columns: the first opening parses the JSON once): "
              f"{first['seconds']:.2f} s, peak {first['peak_mb']:.0f} MB", flush=True)
        again = _child("monitor", str(run_path), expected)
        print(f"monitor, opening that run again (from the columns it built): {again['seconds']:.2f} s, "
              f"peak {again['peak_mb']:.0f} MB", flush=True)
        if logs is not None:
            tb = _child("tensorboard", str(logs))
            print(f"tensorboard EventAccumulator: {tb['seconds']:.2f} s, peak {tb['peak_mb']:.0f} MB, "
                  f"{tb['scalars']} scalars", flush=True)
            print(f"ratio: the monitor opens the run {tb['seconds'] / monitor['seconds']:.1f}x faster "
                  f"than EventAccumulator loads it (goal >= 5x); "
                  f"{tb['seconds'] / first['seconds']:.1f}x on JSON Lines alone")
        else:
            print("no TensorBoard comparison (--no-tensorboard, or pip install tensorboard)")
        _report_writer_list_and_follow(root, args)


def _report_writer_list_and_follow(root: Path, args: argparse.Namespace) -> None:
    """The writer's cost for the columns, the runs list, and follow latency with many writers."""
    cost = measure_writer(root / "writer", min(args.steps, 100_000), args.fields)
    print(f"writer: {cost['records']} records of one rank in {cost['plain_s']:.2f} s as JSON Lines "
          f"alone, {cost['columns_s']:.2f} s keeping the columns too "
          f"({1e6 * (cost['columns_s'] - cost['plain_s']) / cost['records']:.1f} us a record)")
    listing = measure_list(root / "many", args.list_runs)
    print(f"runs list with {listing['runs']} runs: {listing['list_s']:.2f} s read whole, "
          f"{listing['cached_s']:.2f} s on the Monitor's refresh (unchanged runs not read again)")
    follow = measure_follow(root / "runs", args.ranks, args.follow_seconds)
    print(f"follow: {follow['writers']} writers, p95 latency {follow['p95_s'] * 1000:.0f} ms "
          f"(median {follow['median_s'] * 1000:.0f} ms, {follow['records']} records)")


if __name__ == "__main__":
    main()
