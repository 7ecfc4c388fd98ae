"""The latent studio: sample, interpolate, steer and paint in the latent space of a GAN or VAE.

Widgets only; the engines are in :mod:`backends.latent`, the widgets in
:mod:`panels.latent`. This module assembles them and owns the three task
slots that keep the window responsive: ``render`` (the edited image, latest
request wins, debounced), ``grid`` (seed grid and interpolation strips) and
``analysis`` (opening checkpoints, unit statistics, principal and class
directions). Every render carries a request id; a result older than the one
on screen is dropped, so a fast slider drag renders only the newest positions.

Layout: a model bar on top; the seed grid on the left (click a cell to show
it, shift-click to add it as an interpolation anchor); the image views in
the middle (encoded original, edited image with the brush canvas and its
pooled-mask overlay, the compare model's image) with an interpolation strip
below; tabs on the right for interpolation, directions, brushes, VAE images
and export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from panels.latent.brush_controls import BrushControls
from panels.latent.canvas import ImageCanvas
from panels.latent.direction_controls import DirectionControls
from panels.latent.encode_controls import EncodeControls
from panels.latent.export_controls import ExportControls
from panels.latent.model_bar import ModelBar
from panels.latent.path_controls import Anchor, PathControls
from panels.latent.render_requests import RenderRequests
from panels.latent.seed_controls import SeedControls
from panels.latent.seed_grid import SeedGrid
from workbench.context import AppContext

_Controls = TypeVar("_Controls", bound=QWidget)


class LatentPanel(QWidget):
    """Sample grids, interpolation, direction sliders and feature brushes for a DCGAN or VAE.

    Signals
    -------
    sig_model_loaded(str)      a model was opened (its name)
    sig_grid_shown(int)        the seed grid was redrawn (number of cells)
    sig_image_shown(int)       the edited image was redrawn (the request id it answers)
    sig_strip_shown(int)       an interpolation strip was redrawn (number of frames)
    sig_analysis_done(str)     statistics or directions finished ("stats", "pca", "class",
                               "folders", "folder-pca")
    """

    # Open the first shipped demo when the panel is first shown, so the studio
    # has something to show on first start (tests turn this off).
    autoload_demo = True

    sig_model_loaded = Signal(str)
    sig_grid_shown = Signal(int)
    sig_image_shown = Signal(int)
    sig_strip_shown = Signal(int)
    sig_analysis_done = Signal(str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._render_runner = context.task_runner(self, "latent-render")
        self._grid_runner = context.task_runner(self, "latent-grid")
        self._analysis_runner = context.task_runner(self, "latent-analysis")
        self.model = None  # backends.latent.model.LatentModel
        self.compare_model = None
        self.classifier = None
        self.stats = None  # concepts.UnitStatistics
        self.compare_levels: dict = {}
        self.dataset = None  # analysis.LabelledImages, loaded on demand
        self.grid_latents = None  # torch.Tensor (n, d)
        self.grid_seeds: list[int] = []
        self.current_cell: int | None = 0
        self.encoded = None  # (label, z, original image uint8)
        self.source = "cell"  # where the base latent comes from: cell | path | plane | encoded
        self.strip_images: np.ndarray | None = None
        self.last_result = None  # RenderResult on screen
        self.last_compare = None
        self.shown_image: np.ndarray | None = None
        self._live_mask: np.ndarray | None = None
        self._renders = RenderRequests(self)
        self._renders.sig_due.connect(self._submit_render)
        # What happened to render requests; read by tests and the latency benchmark.
        self.render_stats = self._renders.stats
        self.latencies_ms = self._renders.latencies_ms
        self._build()
        context.events.sig_checkpoint_opened.connect(self._on_checkpoint_broadcast)
        from backends.latent.catalog import demo_names

        self.model_bar.fill_choices(demo_names())
        self._set_enabled(False)
        self._autoloaded = False

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self.autoload_demo and not self._autoloaded and self.model is None:
            self._autoloaded = True
            demo = self.model_bar.first_choice()
            if demo:
                self.open_model(demo)

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(6, 6, 6, 6)
        self.model_bar = ModelBar(self.context)
        self.model_bar.sig_model_chosen.connect(self.open_model)
        self.model_bar.sig_compare_chosen.connect(self._on_compare_chosen)
        root.addWidget(self.model_bar)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.seed_controls = SeedControls()
        self.seed_controls.sig_changed.connect(self.refresh_grid)
        self.seed_controls.grid.sig_cell_clicked.connect(self._on_cell_clicked)
        splitter.addWidget(self.seed_controls)
        splitter.addWidget(self._build_views())
        self.tabs = QTabWidget()
        self.path_controls = self._add_tab(
            "Path", PathControls(), sig_anchors_changed=self._anchors_changed,
            sig_add_shown=self.add_current_as_anchor, sig_clear=self.clear_anchors,
            sig_path_changed=self._on_path_changed, sig_t_changed=self._on_t_changed,
            sig_plane_moved=self._on_plane_moved, sig_strip_requested=self.render_strip)
        self.direction_controls = self._add_tab(
            "Directions", DirectionControls(), sig_pca_requested=self.compute_principal_directions,
            sig_class_requested=self.compute_class_direction, sig_changed=self.schedule_render,
            sig_folders_requested=self._ask_folder_direction,
            sig_folder_pca_requested=self._ask_folder_principal)
        self.brush_controls = self._add_tab(
            "Brush", BrushControls(self.edit_view), sig_strokes_changed=self.schedule_render)
        self.encode_controls = self._add_tab(
            "Encode", EncodeControls(), sig_encode_file=self.encode_image_file,
            sig_encode_dataset=self.encode_dataset_image, sig_anchor=self._anchor_encoded)
        self.export_controls = self._add_tab(
            "Export", ExportControls(), sig_save_image=self.export_image_png,
            sig_save_grid=self.export_grid_png, sig_save_gif=self.export_gif, sig_save_mp4=self.export_mp4,
            sig_save_latents=self.save_latents, sig_load_latents=self.load_latents)
        # Minimum widths are explicit so the panel fits a 700 px window; the tab
        # pages scroll and the seed controls squeeze when the window is that small.
        self.tabs.setMinimumWidth(220)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        splitter.addWidget(self.tabs)
        splitter.setSizes([290, 560, 390])
        splitter.setStretchFactor(1, 1)
        root.addWidget(splitter, 1)
        for keys, slot in (("Ctrl+Z", self.undo), ("Ctrl+Shift+Z", self.redo), ("Ctrl+Y", self.redo)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        # The widgets that tests, the screenshot tool and the benchmark drive by name.
        self.grid, self.seed_spin = self.seed_controls.grid, self.seed_controls.seed_spin
        self.t_slider, self.steps_spin = self.path_controls.t_slider, self.path_controls.steps_spin
        self.pca_count = self.direction_controls.pca_count
        brush = self.brush_controls
        self.brush_check, self.brush_layer, self.history = brush.brush_check, brush.brush_layer, brush.history
        self.concept_combo, self.units_edit = brush.concept_combo, brush.units_edit
        self.draw_radio, self.remove_radio = brush.draw_radio, brush.remove_radio
        self.intensity_combo = brush.intensity_combo

    def _add_tab(self, title: str, controls: _Controls, **slots: Callable[..., Any]) -> _Controls:
        """Connect ``controls``' signals (by name) to their slots and add it as a scrolling tab."""
        for signal, slot in slots.items():
            getattr(controls, signal).connect(slot)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(controls)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.tabs.addTab(area, title)
        return controls

    def _build_views(self) -> QWidget:
        views = QWidget()
        layout = QVBoxLayout(views)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.original_view = ImageCanvas("Original")
        self.edit_view = ImageCanvas("Image")
        self.edit_view.sig_painting.connect(self._on_painting)
        self.edit_view.sig_painted.connect(self.add_stroke)
        self.compare_view = ImageCanvas("Compare")
        for view in (self.original_view, self.edit_view, self.compare_view):
            row.addWidget(view)
        self.original_view.hide()
        self.compare_view.hide()
        layout.addLayout(row, 3)
        self.strip = SeedGrid(columns=9)
        self.strip.setMaximumHeight(110)
        self.strip.sig_cell_clicked.connect(lambda i, _s: self._on_strip_clicked(i))
        layout.addWidget(self.strip, 1)
        self.strip.hide()
        self.view_info = QLabel("")
        self.view_info.setWordWrap(True)
        layout.addWidget(self.view_info)
        return views

    # State held by the pieces, under the names scripts and tests use.

    @property
    def anchors(self) -> list[Anchor]:
        return self.path_controls.anchors

    @property
    def strokes(self):
        return self.brush_controls.strokes

    @property
    def direction_sliders(self) -> list[QSlider]:
        return self.direction_controls.sliders

    # ------------------------------------------------------------ model choice

    def _set_enabled(self, enabled: bool) -> None:
        self.tabs.setEnabled(enabled)
        self.seed_controls.set_controls_enabled(enabled)
        self.model_bar.set_compare_enabled(enabled)

    def _on_compare_chosen(self, path: str | None) -> None:
        if path:
            self.open_compare(path)
        else:
            self.set_compare_model(None)

    def _on_checkpoint_broadcast(self, path: Path) -> None:
        """File → Open checkpoint: take it when it is a GAN or VAE; other kinds are for other panels."""
        from backends.latent.catalog import LATENT_KINDS, checkpoint_kind

        if checkpoint_kind(path) in LATENT_KINDS:
            self.open_model(str(path))

    def open_model(self, path: str | Path) -> None:
        """Open a checkpoint, run folder or demo name on a worker; errors go to the message bar."""

        def load(progress=None):
            # Imported here, on the worker: the first import of torch takes seconds.
            from backends.latent import analysis
            from backends.latent.model import open_latent_model

            model = open_latent_model(path)
            classifier = None
            try:
                classifier = analysis.concept_classifier_for(model)
            except Exception as exc:  # noqa: BLE001 - concepts are optional; the studio still works
                note = f"concepts unavailable ({exc})"
            else:
                note = ""
            # Large decoders (a Stable Diffusion VAE) take fewer samples: seconds per image on a CPU.
            samples = getattr(model, "statistics_samples", 512)
            stats = analysis.unit_statistics_for(model, classifier, samples=samples)
            return model, classifier, stats, note

        self.context.show_status(f"Opening {path}…")
        self._analysis_runner.submit(load, on_done=lambda r: self._on_model_loaded(str(path), r),
                                     on_error=self._on_error)

    def _on_model_loaded(self, path: str, result: tuple) -> None:
        model, classifier, stats, note = result
        self.model, self.classifier, self.stats = model, classifier, stats
        step = f", step {model.step}" if model.step is not None else ""
        self.model_bar.show_model(path, f"{model.kind.upper()} · z {model.latent_dim} · "
                                        f"{model.image_size}×{model.image_size}{step} · {model.source}",
                                  model.source)
        self.encoded = None
        self.source = "cell"
        self.current_cell = 0
        self.path_controls.clear_anchors()
        if self.compare_model is not None and self.compare_model.latent_dim != model.latent_dim:
            self.set_compare_model(None)
        self.seed_controls.show_kind(model.kind)
        self.tabs.setTabEnabled(3, model.can_encode)
        self.direction_controls.folder_box.setEnabled(model.can_encode)
        self.brush_controls.set_model(model, stats)
        names = classifier.class_names if classifier is not None else model.class_names()
        self.direction_controls.set_model(model.brush_layers, names)
        if note:
            self.context.show_status(note)
        self.edit_view.caption = model.name
        self._set_enabled(True)
        self._update_views_visibility()
        self.refresh_grid()
        self.sig_model_loaded.emit(model.name)
        self.context.show_status(f"Opened {model.name}")

    def open_compare(self, path: str | Path) -> None:
        """Open a second checkpoint that renders the same latents and edits side by side."""

        def load(progress=None):
            from backends.latent import analysis
            from backends.latent.model import open_latent_model

            model = open_latent_model(path)
            stats = analysis.unit_statistics_for(model, None, samples=256)
            return model, stats

        self._analysis_runner.submit(load, on_done=lambda r: self._on_compare_loaded(str(path), r),
                                     on_error=self._on_error)

    def _on_compare_loaded(self, path: str, result: tuple) -> None:
        model, stats = result
        if self.model is not None and model.latent_dim != self.model.latent_dim:
            self.context.show_error(
                f"cannot compare: {model.name} takes latents of size {model.latent_dim}, "
                f"{self.model.name} takes {self.model.latent_dim}; pick a checkpoint of the same model"
            )
            self.model_bar.clear_compare()
            return
        self.model_bar.show_compare(path)
        self.compare_levels = stats.levels()
        self.set_compare_model(model)
        self.sig_analysis_done.emit("compare")

    def set_compare_model(self, model) -> None:
        self.compare_model = model
        self.compare_view.caption = model.name if model is not None else "Compare"
        self._update_views_visibility()
        self.schedule_render()

    # ------------------------------------------------------------ grid

    def reroll(self) -> None:
        self.seed_controls.reroll()

    def refresh_grid(self) -> None:
        """Recompute the grid's latents from the seeds and render it (on the grid worker)."""
        if self.model is None:
            return
        from backends.latent.render import render

        seeds, kind = self.seed_controls.seeds(), self.model.kind
        try:
            z = self.model.latents_for_seeds(seeds, self.seed_controls.truncation(kind),
                                             self.seed_controls.temperature(kind))
        except ValueError as exc:
            self.context.show_error(str(exc))
            return
        self.grid_latents, self.grid_seeds = z, seeds
        if self.current_cell is not None and self.current_cell >= len(seeds):
            self.current_cell = 0
        self._sync_grid_marks()
        model = self.model
        self._grid_runner.submit(render, model, z, on_done=lambda r: self._on_grid_rendered(model, r),
                                 on_error=self._on_error)
        if self.source == "cell":
            self.schedule_render()

    def _on_grid_rendered(self, model, result) -> None:
        if model is not self.model:
            return
        self.grid.set_images(result.images, [str(s) for s in self.grid_seeds])
        self.sig_grid_shown.emit(len(result.images))

    def _sync_grid_marks(self) -> None:
        self.grid.current = self.current_cell if self.source == "cell" else None
        self.grid.anchors = {a.cell: i + 1 for i, a in enumerate(self.anchors) if a.cell is not None}
        self.grid.update()

    def _on_cell_clicked(self, index: int, shift: bool) -> None:
        if shift:
            self.add_cell_as_anchor(index)
        else:
            self.select_cell(index)

    def select_cell(self, index: int) -> None:
        """Show grid cell ``index`` (its seed's latent) in the image view."""
        self.current_cell = index
        self._show_source("cell")

    def _show_source(self, source: str) -> None:
        self.source = source
        self._sync_grid_marks()
        self.schedule_render()

    # ------------------------------------------------------------ anchors and paths

    def add_cell_as_anchor(self, index: int) -> None:
        seed = self.grid_seeds[index]
        self.path_controls.add_anchors([Anchor(f"seed {seed}", self.grid_latents[index].clone(), seed, index)])

    def add_current_as_anchor(self) -> None:
        z = self.current_latent()
        if z is None:
            return
        seed = self.grid_seeds[self.current_cell] if self.source == "cell" and self.current_cell is not None else None
        label = f"seed {seed}" if seed is not None else f"{self.source} latent"
        if self.direction_controls.directions and self.direction_controls.moved():
            label += " (edited)"
        self.path_controls.add_anchors([Anchor(label, z.clone(), seed)])

    def clear_anchors(self) -> None:
        if self.source in ("path", "plane"):
            self.source = "cell"
        self.path_controls.clear_anchors()

    def _anchors_changed(self) -> None:
        self._sync_grid_marks()
        if len(self.anchors) >= 2 and self.source in ("path", "plane"):
            self.schedule_render()

    def _on_t_changed(self) -> None:
        if len(self.anchors) >= 2:
            self._show_source("path")

    def _on_plane_moved(self) -> None:
        if len(self.anchors) >= 4:
            self.path_controls.plane_check.setChecked(True)
            self._show_source("plane")

    def _on_path_changed(self) -> None:
        if self.path_controls.uses_plane():
            self.source = "plane"
        elif len(self.anchors) >= 2 and self.source in ("path", "plane"):
            self.source = "path"
        self.schedule_render()

    def base_latent(self):
        """The latent before direction edits: a cell, a point on the path or plane, or an encoding."""
        if self.model is None:
            return None
        z = self.path_controls.latent(self.source)
        if z is not None:
            return z
        if self.source == "encoded" and self.encoded is not None:
            return self.encoded[1]
        if self.grid_latents is None or self.current_cell is None:
            return None
        return self.grid_latents[min(self.current_cell, len(self.grid_latents) - 1)]

    def current_latent(self):
        """The latent on screen: the base latent moved along every direction slider."""
        z = self.base_latent()
        return None if z is None else self.direction_controls.apply(z)

    def path_latents(self, steps: int):
        """``steps`` latents along the anchors (or the plane's diagonal), with direction edits."""
        import torch

        zs = self.path_controls.strip_latents(steps)
        if self.direction_controls.directions:
            zs = torch.stack([self.direction_controls.apply(z) for z in zs])
        return zs

    def render_strip(self) -> None:
        """Render the N-step strip along the anchor path (with edits and strokes) below the image."""
        from backends.latent.render import render

        if self.model is None:
            return
        if len(self.anchors) < 2:
            self.context.show_error("a strip needs two or more anchors: shift-click grid cells to add them")
            return
        zs = self.path_latents(self.steps_spin.value())
        model = self.model
        self._grid_runner.submit(
            render, model, zs, self.strokes.strokes, self._levels(),
            on_done=lambda r: self._on_strip_rendered(model, r), on_error=self._on_error,
        )

    def _on_strip_rendered(self, model, result) -> None:
        if model is not self.model:
            return
        self.strip_images = result.images
        self.strip.columns = len(result.images)
        self.strip.set_images(result.images)
        self.strip.show()
        self.sig_strip_shown.emit(len(result.images))

    def _on_strip_clicked(self, index: int) -> None:
        if self.strip_images is None or len(self.anchors) < 2:
            return
        self.path_controls.go_to_frame(index, len(self.strip_images))
        self.source = "path"
        self.schedule_render()

    # ------------------------------------------------------------ directions

    def compute_principal_directions(self) -> None:
        from backends.latent import analysis

        choice = self.direction_controls.pca_choice()
        if self.model is None or choice is None:
            return
        layer, count = choice
        self.direction_controls.pca_button.setEnabled(False)
        self._analysis_runner.submit(
            analysis.principal_directions_for, self.model, layer, 1000, count,
            on_done=self._on_pca_done, on_error=self._on_error,
        )

    def _on_pca_done(self, found: list) -> None:
        self.direction_controls.pca_button.setEnabled(True)
        self.direction_controls.set_principal(found)
        self.sig_analysis_done.emit("pca")

    def compute_class_direction(self) -> None:
        from backends.latent import analysis

        choice = self.direction_controls.class_choice()
        if self.model is None or choice is None:
            return
        source, target, method = choice
        if source == target:
            self.context.show_error("pick two different classes for a class direction")
            return
        model, classifier, dataset = self.model, self.classifier, self.dataset

        def work(progress=None):
            data = dataset
            if model.can_encode and data is None:
                data = analysis.dataset_for(model, limit=2000)
            found = analysis.class_direction_for(model, source, target, method, classifier, data,
                                                 progress=progress)
            return found, data

        self.direction_controls.class_button.setEnabled(False)
        self._analysis_runner.submit(work, on_done=self._on_class_done, on_error=self._on_error)

    def _on_class_done(self, result: tuple) -> None:
        found, data = result
        self.direction_controls.class_button.setEnabled(True)
        if data is not None:
            self.dataset = data
        self.direction_controls.add(found)
        self.sig_analysis_done.emit("class")

    def _ask_folder_direction(self) -> None:
        first = QFileDialog.getExistingDirectory(self, "Images the direction starts from")
        second = first and QFileDialog.getExistingDirectory(self, "Images the direction goes to")
        if first and second:
            self.add_folder_direction(first, second)

    def _ask_folder_principal(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Images whose encodings to analyse")
        if folder:
            self.add_folder_principal_directions(folder)

    def add_folder_direction(self, source: str | Path, target: str | Path) -> None:
        """A direction from the mean encoding of ``source`` images to that of ``target`` images."""
        from backends.latent import photos

        if not self._can_encode():
            return
        self.direction_controls.folders_button.setEnabled(False)
        self._analysis_runner.submit(
            photos.folder_direction, self.model, source, target,
            on_done=self._on_folder_direction, on_error=self._on_error,
        )

    def _on_folder_direction(self, found) -> None:
        self.direction_controls.folders_button.setEnabled(True)
        self.direction_controls.add(found)
        self.sig_analysis_done.emit("folders")

    def add_folder_principal_directions(self, folder: str | Path) -> None:
        """Principal directions of a folder of encoded images (replacing the PCA sliders)."""
        from backends.latent import photos

        if not self._can_encode():
            return
        model, count = self.model, self.direction_controls.pca_count.value()

        def work(progress=None):
            return photos.principal_directions(
                photos.encode_folder(model, folder, progress=progress), count
            )

        self.direction_controls.folder_pca_button.setEnabled(False)
        self._analysis_runner.submit(work, on_done=self._on_folder_pca, on_error=self._on_error)

    def _on_folder_pca(self, found: list) -> None:
        self.direction_controls.folder_pca_button.setEnabled(True)
        self.direction_controls.set_principal(found)
        self.sig_analysis_done.emit("folder-pca")

    def reset_directions(self) -> None:
        self.direction_controls.reset()

    def clear_directions(self) -> None:
        self.direction_controls.clear()

    # ------------------------------------------------------------ brushes

    def _levels(self) -> dict:
        return self.stats.levels() if self.stats is not None else {}

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.tabText(index) == "Brush" and self.model is not None:
            self.brush_check.setChecked(True)
        self.brush_controls.update_overlay()

    def brush_units(self) -> tuple[int, ...]:
        """The units the next stroke edits: the concept's top units, or those typed by hand."""
        return self.brush_controls.brush_units()

    def _on_painting(self, mask: np.ndarray) -> None:
        self._live_mask = mask
        self.schedule_render()

    def add_stroke(self, mask: np.ndarray) -> None:
        """Push a painted mask (H, W) as a stroke with the current brush settings and re-render."""
        from backends.latent.strokes import BrushError

        self._live_mask = None
        if self.model is None:
            return
        try:
            stroke = self.brush_controls.make_stroke(np.asarray(mask, bool))
        except BrushError as exc:
            self.context.show_error(str(exc))
            self.schedule_render()
            return
        self.brush_controls.push(stroke)

    def undo(self) -> None:
        self.brush_controls.undo()

    def redo(self) -> None:
        self.brush_controls.redo()

    def delete_stroke(self, index: int) -> None:
        self.brush_controls.delete(index)

    def reset_strokes(self) -> None:
        self.brush_controls.reset()

    def pooled_overlay(self) -> np.ndarray | None:
        """The current brush layer's composite mask, as pooled to its grid, at image size."""
        return self.brush_controls.pooled_overlay()

    # ------------------------------------------------------------ VAE images

    def encode_image_file(self, path: str | Path) -> None:
        """Read an image file, encode it with the VAE, show original and reconstruction."""
        from backends.latent.export import ExportError
        from backends.latent.photos import load_photo
        from backends.latent.render import to_uint8

        if not self._can_encode():
            return
        try:
            x = load_photo(path, self.model.image_size, self.model.channels)
        except ExportError as exc:
            self.context.show_error(str(exc))
            return
        if self.encode_controls.invert_check.isChecked():
            x = 1.0 - x
        self._set_encoded(Path(path).name, x, to_uint8(x)[0])

    def encode_dataset_image(self, index: int) -> None:
        """Encode image ``index`` of the model's dataset (loaded on a worker the first time)."""
        from backends.latent import analysis

        if not self._can_encode():
            return
        if self.dataset is not None:
            self._encode_from_dataset(index)
            return
        model = self.model
        self._analysis_runner.submit(lambda: analysis.dataset_for(model, limit=3000),
                                     on_done=lambda d: self._dataset_ready(d, index), on_error=self._on_error)

    def _can_encode(self) -> bool:
        if self.model is None or not self.model.can_encode:
            self.context.show_error("encoding needs a VAE: open a vae checkpoint first")
            return False
        return True

    def _dataset_ready(self, data, index: int) -> None:
        self.dataset = data
        self.encode_controls.set_dataset_size(len(data.images))
        self._encode_from_dataset(index)

    def _encode_from_dataset(self, index: int) -> None:
        from backends.latent.render import to_uint8

        data = self.dataset
        index = min(max(0, index), len(data.images) - 1)
        x = data.images[index : index + 1]
        name = data.class_names[int(data.labels[index])] if data.class_names else ""
        self._set_encoded(f"{data.name} #{index} {name}".strip(), x, to_uint8(x)[0])

    def _set_encoded(self, label: str, x, original: np.ndarray) -> None:
        z = self.model.encode(x)[0]  # a few ms for the small VAEs the studio is for
        self.encoded = (label, z, original)
        self.source = "encoded"
        self.original_view.caption = f"Original: {label}"
        self.original_view.set_image(original)
        self._sync_grid_marks()
        self._update_views_visibility()
        self.schedule_render()

    def _anchor_encoded(self) -> None:
        if self.encoded is not None:
            self.path_controls.add_anchors([Anchor(f"image {self.encoded[0]}", self.encoded[1].clone())])

    def _update_views_visibility(self) -> None:
        self.original_view.setVisible(self.encoded is not None and self.source == "encoded")
        self.compare_view.setVisible(self.compare_model is not None)
        if self.source == "encoded":
            self.edit_view.caption = "Reconstruction" + (" (edited)" if self._edited() else "")
        elif self.model is not None:
            self.edit_view.caption = self.model.name

    def _edited(self) -> bool:
        return len(self.strokes) > 0 or self.direction_controls.moved() > 0

    # ------------------------------------------------------------ rendering

    def schedule_render(self) -> None:
        """Ask for the image to be redrawn; bursts within the debounce become one request."""
        if self.model is None:
            return
        self._renders.ask()

    def render_pending(self) -> bool:
        """Whether a render is waiting (debounced) or on its way to the screen."""
        return self._renders.pending()

    def render_now(self) -> None:
        """Submit the render immediately (tests and benchmarks)."""
        self._renders.stop()
        self._submit_render()

    def _submit_render(self) -> None:
        from backends.latent.render import render, render_compare

        if self.model is None:
            return
        z = self.current_latent()
        if z is None:
            return
        strokes = list(self.strokes.strokes)
        if self._live_mask is not None and self._live_mask.any():
            try:
                strokes.append(self.brush_controls.make_stroke(self._live_mask))
            except ValueError:
                pass  # bad unit text: reported when the stroke is finished
        request_id = self._renders.new_id()
        model, other = self.model, self.compare_model
        if other is None:
            self._render_runner.submit(render, model, z, strokes, self._levels(), request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)
        else:
            self._render_runner.submit(render_compare, model, other, z, strokes, self._levels(),
                                       self.compare_levels, request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)

    def _on_rendered(self, result) -> None:
        compare, skipped = None, []
        if isinstance(result, tuple):
            result, compare, skipped = result
        if not self._renders.accept(result.request_id):
            return
        self.last_result, self.last_compare = result, compare
        self.shown_image = result.images[0]
        self.edit_view.set_image(self.shown_image)
        if compare is not None:
            self.compare_view.set_image(compare.images[0])
            self.compare_view.caption = self.compare_model.name + (
                f" ({len(skipped)} strokes not applicable)" if skipped else "")
        self._update_views_visibility()
        self.brush_controls.show_masks(result.masks)
        self._renders.shown(result.request_id)
        self._describe_view()
        self.sig_image_shown.emit(result.request_id)

    def _describe_view(self) -> None:
        z = self.last_result.latents[0]
        where = {
            "cell": f"seed {self.grid_seeds[self.current_cell]}" if self.current_cell is not None and self.grid_seeds else "",
            "path": self.path_controls.describe("path"),
            "plane": self.path_controls.describe("plane"),
            "encoded": f"encoded {self.encoded[0]}" if self.encoded else "",
        }[self.source]
        self.view_info.setText(
            f"{where} · |z| = {float(z.norm()):.2f} (typical {math.sqrt(self.model.latent_dim):.2f}) · "
            f"{self.direction_controls.moved()} direction(s), {len(self.strokes)} stroke(s) · "
            f"{self.last_result.seconds * 1000:.1f} ms"
        )

    def _on_error(self, error: BaseException, _details: str) -> None:
        from workbench.tasks import error_message

        self.direction_controls.enable_buttons()
        self.context.show_error(error_message(error))

    def _on_render_error(self, error: BaseException, details: str) -> None:
        # The failed request will never be shown: stop waiting for it.
        self._renders.failed()
        self._on_error(error, details)

    # ------------------------------------------------------------ export

    def _guard(self, action: Callable[[], Any]) -> bool:
        from backends.latent.export import ExportError

        try:
            action()
        except (ExportError, ValueError, OSError) as exc:
            self.context.show_error(str(exc))
            return False
        return True

    def export_image_png(self, path: str | Path) -> bool:
        from backends.latent import export

        if self.shown_image is None:
            self.context.show_error("nothing to save yet: open a model first")
            return False
        ok = self._guard(lambda: export.save_png(path, self.shown_image))
        if ok:
            self.context.show_status(f"Saved {path}")
        return ok

    def export_grid_png(self, path: str | Path) -> bool:
        from backends.latent import export

        if self.grid.images is None:
            self.context.show_error("nothing to save yet: open a model first")
            return False
        return self._guard(lambda: export.save_png(path, export.grid(self.grid.images, scale=4)))

    def _export_strip(self, path: str | Path, save: Callable[..., int]) -> int:
        """Render the interpolation strip and write it with ``save``; returns the frames written."""
        if len(self.anchors) < 2:
            self.context.show_error("export needs two or more anchors: shift-click grid cells to add them")
            return 0
        from backends.latent.render import render

        # Rendered here, not on a worker: an export is a deliberate, short action
        # and the file must match the strip the user set up.
        frames = render(self.model, self.path_latents(self.steps_spin.value()), self.strokes.strokes,
                        self._levels()).images
        written = 0

        def write() -> None:
            nonlocal written
            written = save(path, list(frames), fps=self.export_controls.gif_fps.value(), scale=4)

        self._guard(write)
        return written

    def export_gif(self, path: str | Path) -> int:
        """Write the interpolation strip as a GIF; returns the frames written (0 on failure)."""
        from backends.latent import export

        written = self._export_strip(path, export.save_gif)
        if written:
            self.context.show_status(f"Saved {path} ({written} frames)")
        return written

    def export_mp4(self, path: str | Path) -> int:
        """Write the interpolation strip as an MP4; returns the frames written (0 on failure)."""
        from backends.latent import export

        return self._export_strip(path, export.save_mp4)

    def save_latents(self, path: str | Path) -> bool:
        """Save the anchors (or the grid when there are none) and the shown latent with seeds."""
        import torch

        from backends.latent import export

        if self.model is None:
            return False
        rows, seeds = [], []
        for anchor in self.anchors:
            rows.append(anchor.z)
            seeds.append(anchor.seed)
        if not rows and self.grid_latents is not None:
            rows, seeds = list(self.grid_latents), list(self.grid_seeds)
        z = self.current_latent()
        if z is not None:
            rows.append(z)
            seeds.append(None)
        return self._guard(lambda: export.save_latents(
            path, torch.stack(rows), seeds, {"checkpoint": self.model.source, "kind": self.model.kind}))

    def load_latents(self, path: str | Path) -> bool:
        """Add the latents of a ``.npz`` file as anchors; refuses a file of the wrong size."""
        from backends.latent import export

        if self.model is None:
            return False
        try:
            z, seeds = export.load_latents(path, self.model.latent_dim)
        except export.ExportError as exc:
            self.context.show_error(str(exc))
            return False
        self.path_controls.add_anchors(
            Anchor(f"{Path(path).name}[{i}]" + (f" seed {seed}" if seed is not None else ""), row.clone(), seed)
            for i, (row, seed) in enumerate(zip(z, seeds, strict=True))
        )
        return True

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        self._renders.stop()
        for runner in (self._render_runner, self._grid_runner, self._analysis_runner):
            runner.shutdown()
