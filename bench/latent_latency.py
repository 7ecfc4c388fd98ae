"""Latent studio latency on the CPU demo models: slider step and brush stroke to image shown.

Drives the real panel offscreen (Qt's offscreen platform, no display):

* **slider step → image shown**: one interpolation-slider move, timed from the
  value change to the panel's ``sig_image_shown`` (debounce, worker render,
  queued result, QImage conversion). Goal ≤ 16 ms.
* **brush stroke → image shown**: a finished stroke pushed onto a stack of
  three, timed the same way. Goal ≤ 50 ms.
* **fast drag**: 300 slider moves 1 ms apart, then as fast as events come. The panel renders only the
  newest position whenever its worker is free; the peer is a FIFO queue
  that renders every request in order (what a plain signal-to-worker
  connection does), measured in the same run. The bench prints how many
  requests were rendered vs superseded and the ratio of the time from the
  last move to the final image, peer / panel.

    python bench/latent_latency.py                 # both demos
    python bench/latent_latency.py --model dcgan-fashion --steps 50
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _wait(app, predicate, timeout: float = 30.0) -> None:
    end = time.perf_counter() + timeout
    while not predicate():
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError("the panel did not answer in time")
        time.sleep(0.0002)


def _timed_shown(app, panel, action) -> float:
    """Milliseconds from ``action()`` to the image it asked for being on screen."""
    shown = []
    panel.sig_image_shown.connect(lambda rid: shown.append(time.perf_counter()))
    start = time.perf_counter()
    action()
    try:
        _wait(app, lambda: shown and not panel.render_pending())
    except TimeoutError:
        raise SystemExit(f"no image: {panel.context.errors[-1:] or panel.render_stats}") from None
    panel.sig_image_shown.disconnect()
    return (shown[-1] - start) * 1000.0


def bench_model(app, name: str, steps: int) -> dict:
    """Open ``name`` in a fresh panel and time its slider steps, strokes and fast drags."""
    from backends.latent.render import render

    panel = _open_panel(app, name)
    slider_ms = _slider_latency(app, panel, steps)
    z = panel.current_latent()
    start = time.perf_counter()
    for _ in range(50):
        render(panel.state.model, z)
    render_ms = (time.perf_counter() - start) / 50 * 1000.0
    stroke_ms = _stroke_latency(app, panel, max(10, steps // 5))
    drags = {spacing_ms: _fast_drag(app, panel, spacing_ms) for spacing_ms in (1.0, 0.0)}
    panel.shutdown()
    panel.close()
    return {
        "name": name,
        "slider_ms": statistics.median(slider_ms),
        "slider_p90": sorted(slider_ms)[int(0.9 * len(slider_ms))],
        "stroke_ms": statistics.median(stroke_ms),
        "stroke_p90": sorted(stroke_ms)[int(0.9 * len(stroke_ms))],
        "drags": drags,
        "render_ms": render_ms,
    }


def _open_panel(app, name: str):
    """A shown latent panel with ``name`` open and three grid cells as anchors."""
    import tempfile
    from pathlib import Path

    from panels.latent.panel import LatentPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    tmp = Path(tempfile.mkdtemp())
    context = AppContext(tmp / "runs", AppSettings(tmp / "settings.ini"))
    panel = LatentPanel(context)
    panel.resize(1280, 760)
    panel.show()
    loaded = []
    panel.sig_grid_shown.connect(lambda n: loaded.append(n))
    panel.open_model(name)
    _wait(app, lambda: loaded and panel.state.shown_image is not None and not panel.render_pending(), 120)
    if context.errors:
        raise SystemExit(f"{name}: {context.errors[-1]}")
    panel.add_cell_as_anchor(0)
    panel.add_cell_as_anchor(1)
    panel.add_cell_as_anchor(2)
    panel.show_tab("Path")
    return panel


def _slider_latency(app, panel, steps: int) -> list[float]:
    """Milliseconds from each of ``steps`` interpolation-slider moves to its image."""
    slider = panel.t_slider
    _timed_shown(app, panel, lambda: slider.setValue(1))  # warm-up
    slider_ms = []
    for i in range(steps):
        value = 5 + (i * 997) % 990  # scattered positions, every one new
        slider_ms.append(_timed_shown(app, panel, lambda v=value: slider.setValue(v)))
    return slider_ms


def _stroke_latency(app, panel, repeats: int) -> list[float]:
    """Milliseconds from a third stroke pushed (then undone) to its image, ``repeats`` times."""
    import numpy as np

    size = panel.state.model.image_size
    layer = list(panel.state.model.brush_layers)[-1]
    panel.brush_layer.setCurrentIndex(panel.brush_layer.findData(layer))
    masks = []
    for k in range(3):
        m = np.zeros((size, size), bool)
        m[4 + 6 * k : 10 + 6 * k, 6:22] = True
        masks.append(m)
    for m in masks[:2]:
        _timed_shown(app, panel, lambda m=m: panel.add_stroke(m))
    stroke_ms = []
    for _ in range(repeats):
        stroke_ms.append(_timed_shown(app, panel, lambda: panel.add_stroke(masks[2])))
        _timed_shown(app, panel, panel.undo)
    return stroke_ms


def _fast_drag(app, panel, spacing_ms: float) -> dict:
    """300 slider moves ``spacing_ms`` apart through the panel, then through the FIFO peer."""
    positions = [(i * 7 % 997) + 2 for i in range(300)]
    # The panel: slider moves; the newest waiting position wins.
    before = dict(panel.render_stats)
    for value in positions:
        panel.t_slider.setValue(value)
        app.processEvents()
        if spacing_ms:
            time.sleep(spacing_ms / 1000)
    last_move = time.perf_counter()
    _wait(app, lambda: not panel.render_pending())
    panel_tail = (time.perf_counter() - last_move) * 1000.0
    after = panel.render_stats
    return {
        "requested": after["requested"] - before["requested"],
        "rendered": after["rendered"] - before["rendered"],
        "panel_tail_ms": panel_tail,
        "fifo_tail_ms": _fifo_tail_ms(app, panel, positions, spacing_ms),
    }


def _fifo_tail_ms(app, panel, positions: list[int], spacing_ms: float) -> float:
    """The peer: a FIFO worker that renders every request in order; last request -> last image."""
    from backends.latent import interpolate
    from backends.latent.render import render

    anchors = [a.z for a in panel.anchors]
    model, strokes, levels = panel.state.model, panel.strokes.strokes, panel.state.levels()
    jobs: queue.Queue = queue.Queue()
    done: list[float] = []

    def worker(jobs: queue.Queue, done: list[float]) -> None:
        while (z := jobs.get()) is not None:
            render(model, z, strokes, levels)
            done.append(time.perf_counter())

    thread = threading.Thread(target=worker, args=(jobs, done))
    thread.start()
    for value in positions:
        jobs.put(interpolate.path_point(anchors, value / 1000))
        app.processEvents()
        if spacing_ms:
            time.sleep(spacing_ms / 1000)
    last_put = time.perf_counter()
    jobs.put(None)
    thread.join()
    return (done[-1] - last_put) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="demo name or checkpoint (repeatable)")
    parser.add_argument("--steps", type=int, default=100, help="slider steps to time")
    args = parser.parse_args(argv)
    import torch
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from backends.latent.model import demo_names

    names = args.model or demo_names()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    for name in names:
        r = bench_model(app, name, args.steps)
        print(f"\n{r['name']}: one render {r['render_ms']:.2f} ms")
        print(f"  slider step -> image shown: median {r['slider_ms']:.1f} ms, p90 {r['slider_p90']:.1f} ms "
              f"(goal <= 16 ms: {'met' if r['slider_ms'] <= 16 else 'MISSED'})")
        print(f"  brush stroke -> image shown: median {r['stroke_ms']:.1f} ms, p90 {r['stroke_p90']:.1f} ms "
              f"(goal <= 50 ms: {'met' if r['stroke_ms'] <= 50 else 'MISSED'})")
        for spacing, d in r["drags"].items():
            ratio = d["fifo_tail_ms"] / max(d["panel_tail_ms"], 1e-3)
            print(f"  fast drag, 300 moves {spacing:g} ms apart: {d['requested']} requests, "
                  f"{d['rendered']} rendered, {d['requested'] - d['rendered']} superseded; "
                  f"last move -> final image: panel {d['panel_tail_ms']:.1f} ms, "
                  f"FIFO peer {d['fifo_tail_ms']:.1f} ms (peer / panel = {ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
