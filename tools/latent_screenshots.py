"""Render the latent studio offscreen with the demo models and save the README screenshots.

Writes ``docs/screenshots/latent-grid.png`` (a seed grid), ``latent-interpolation.png``
(four anchors, a slerp position and a strip), ``latent-brush.png`` (a painted
feature-brush edit with its pooled mask and the stroke history), and
``latent-brush-tshirt-draw.png`` / ``latent-brush-tshirt-remove.png`` (the T-shirt
concept drawn on a grid cell of middling T-shirt probability, and removed from the
one that looks most like one, with the concept score inside the mask before and
after in the stroke's caption)::

    python tools/latent_screenshots.py [--out docs/screenshots] [--model dcgan-fashion]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--model", default="dcgan-fashion")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concept", default="Trouser", help="class whose units the brush draws")
    parser.add_argument("--cell", type=int, default=6, help="grid cell the brush paints on")
    args = parser.parse_args(argv)

    panel, settle = open_studio(args.model, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    grid_and_interpolation_shots(panel, settle, args.out)
    brush_shot(panel, settle, args.out, args.concept, args.cell)
    tshirt_shots(panel, settle, args.out)
    panel.shutdown()
    for name in ("latent-grid.png", "latent-interpolation.png", "latent-brush.png",
                 "latent-brush-tshirt-draw.png", "latent-brush-tshirt-remove.png"):
        print(args.out / name)
    return 0


def open_studio(model: str, seed: int) -> tuple[Any, Callable[..., None]]:
    """An offscreen latent panel with ``model`` open and its grid drawn, and its ``settle``.

    ``settle(predicate)`` runs the event loop until ``predicate()`` holds and no
    render is pending, then a little longer so the last paint lands.
    """
    import tempfile

    from PySide6.QtWidgets import QApplication

    from panels.latent.panel import LatentPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    app = QApplication.instance() or QApplication([])

    def settle(predicate: Callable[[], bool] = lambda: True, timeout: float = 120.0) -> None:
        end = time.perf_counter() + timeout
        while True:
            app.processEvents()
            if predicate() and not panel.render_pending():
                break
            if time.perf_counter() > end:
                raise SystemExit("the studio did not finish rendering in time")
            time.sleep(0.01)
        for _ in range(20):
            app.processEvents()

    tmp = Path(tempfile.mkdtemp())
    context = AppContext(tmp / "runs", AppSettings(tmp / "settings.ini"))
    panel = LatentPanel(context)
    panel.resize(1320, 780)
    panel.show()
    panel.seed_spin.setValue(seed)
    panel.open_model(model)
    settle(lambda: panel.grid.images is not None and panel.state.shown_image is not None)
    if context.errors:
        raise SystemExit(context.errors[-1])
    return panel, settle


def grid_and_interpolation_shots(panel: Any, settle: Callable[..., None], out: Path) -> None:
    """A grid cell shown, then four anchors with a slerp position and its strip."""
    panel.select_cell(5)
    settle()
    panel.grab().save(str(out / "latent-grid.png"))
    for cell in (1, 4, 11, 14):
        panel.add_cell_as_anchor(cell)
    panel.show_tab("Path")
    panel.t_slider.setValue(420)
    panel.render_strip()
    settle(lambda: panel.state.strip_images is not None)
    panel.grab().save(str(out / "latent-interpolation.png"))


def brush_shot(panel: Any, settle: Callable[..., None], out: Path, concept: str, cell: int) -> None:
    """One stroke of ``concept``'s units on the lower half of grid cell ``cell``."""
    import numpy as np

    panel.clear_anchors()
    panel.strip.hide()
    panel.select_cell(cell)
    panel.show_tab("Brush")
    panel.brush_layer.setCurrentIndex(0)  # the coarsest layer: the most semantic units
    if panel.concept_combo.findData(concept) >= 0:
        panel.concept_combo.setCurrentIndex(panel.concept_combo.findData(concept))
    panel.intensity_combo.setCurrentIndex(0)
    size = panel.state.model.image_size
    mask = np.zeros((size, size), bool)
    mask[size // 2 :, :] = True  # draw trouser units on the lower half of a top
    panel.add_stroke(mask)
    settle()
    panel.history.setCurrentRow(0)
    settle()
    panel.grab().save(str(out / "latent-brush.png"))


def tshirt_shots(panel: Any, settle: Callable[..., None], out: Path, concept: str = "T-shirt/top") -> None:
    """Draw the concept where it is absent and remove it where it is present, on its layer."""
    import numpy as np

    from backends.latent import analysis, concepts

    classifier = analysis.concept_classifier_for(panel.state.model)
    c = classifier.class_names.index(concept)
    p = classifier.probabilities(panel.grid.images.transpose(0, 3, 1, 2) / 255.0)[:, c]
    mask = concepts.probe_masks(panel.state.model.image_size)[0]
    layer = next(n for n in panel.state.model.brush_layers if concept in panel.state.stats.offered(n))
    middle = int(np.argsort(p)[len(p) // 2])  # a typical cell, neither T-shirt nor its opposite
    for mode, cell, name in (("draw", middle, "draw"), ("remove", int(np.argmax(p)), "remove")):
        panel.reset_strokes()
        settle()
        panel.select_cell(cell)
        settle()
        before = classifier.masked_scores(panel.state.shown_image.transpose(2, 0, 1)[None] / 255.0, mask)[0, c]
        panel.show_tab("Brush")
        panel.brush_layer.setCurrentIndex(panel.brush_layer.findData(layer))
        panel.concept_combo.setCurrentIndex(panel.concept_combo.findData(concept))
        panel.intensity_combo.setCurrentIndex(1)
        (panel.draw_radio if mode == "draw" else panel.remove_radio).setChecked(True)
        panel.add_stroke(mask)
        settle()
        after = classifier.masked_scores(panel.state.shown_image.transpose(2, 0, 1)[None] / 255.0, mask)[0, c]
        print(f"{mode} {concept} on cell {cell} ({layer}): score inside the mask {before:.2f} -> {after:.2f}")
        panel.history.setCurrentRow(0)
        settle()
        panel.grab().save(str(out / f"latent-brush-tshirt-{name}.png"))


if __name__ == "__main__":
    sys.exit(main())
