"""The latent studio: sample, interpolate, steer and paint in the latent space of a GAN or VAE.

Widgets only; the engines are in :mod:`backends.latent`, the widgets in
:mod:`panels.latent`. This module assembles them, holds the panel's
:class:`~panels.latent.state.LatentState` and owns the three task slots that
keep the window responsive: ``render`` (the edited image, latest request
wins, debounced), ``grid`` (seed grid and interpolation strips) and
``analysis`` (opening checkpoints, unit statistics, principal and class
directions). Every render carries a request id; a result older than the one
on screen is dropped, so a fast slider drag renders only the newest positions.

What the panel does is split by purpose into parts mixed into the class:
:mod:`~panels.latent.model_loading`, :mod:`~panels.latent.grid_and_paths`,
:mod:`~panels.latent.direction_analysis`, :mod:`~panels.latent.image_encoding`,
:mod:`~panels.latent.image_rendering` and :mod:`~panels.latent.file_export`.

Layout: a model bar on top; the seed grid on the left (click a cell to show
it, shift-click to add it as an interpolation anchor); the image views in
the middle (encoded original, edited image with the brush canvas and its
pooled-mask overlay, the compare model's image) with an interpolation strip
below; tabs on the right for interpolation, directions, brushes, VAE images
and export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
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
from panels.latent.direction_analysis import DirectionAnalysis
from panels.latent.direction_controls import DirectionControls
from panels.latent.encode_controls import EncodeControls
from panels.latent.export_controls import ExportControls
from panels.latent.file_export import FileExport
from panels.latent.grid_and_paths import GridAndPaths
from panels.latent.image_encoding import ImageEncoding
from panels.latent.image_rendering import ImageRendering
from panels.latent.model_bar import ModelBar
from panels.latent.model_loading import ModelLoading
from panels.latent.path_controls import Anchor, PathControls
from panels.latent.render_requests import RenderRequests
from panels.latent.seed_controls import SeedControls
from panels.latent.seed_grid import SeedGrid
from panels.latent.state import LatentState, Source
from workbench.context import AppContext

if TYPE_CHECKING:
    import torch

    from backends.latent.concepts import UnitStatistics
    from backends.latent.model import LatentModel
    from backends.latent.render import RenderResult
    from backends.latent.strokes import StrokeStack

_Controls = TypeVar("_Controls", bound=QWidget)


class LatentPanel(
    ModelLoading, GridAndPaths, DirectionAnalysis, ImageEncoding, ImageRendering, FileExport, QWidget
):
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
        self.state = LatentState()
        self._tab_pages: dict[str, QScrollArea] = {}
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
        self._tab_pages[title] = area
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

    # ------------------------------------------------------------ tabs, found by title

    def show_tab(self, title: str) -> None:
        """Bring the tab called ``title`` (Path, Directions, Brush, Encode, Export) to the front."""
        self.tabs.setCurrentWidget(self._tab_pages[title])

    def set_tab_enabled(self, title: str, enabled: bool) -> None:
        self.tabs.setTabEnabled(self.tabs.indexOf(self._tab_pages[title]), enabled)

    def is_tab_enabled(self, title: str) -> bool:
        return self.tabs.isTabEnabled(self.tabs.indexOf(self._tab_pages[title]))

    # ------------------------------------------------------------ names scripts and tests use

    # The state, read-only, under the panel's own names.

    @property
    def model(self) -> LatentModel | None:
        return self.state.model

    @property
    def stats(self) -> UnitStatistics | None:
        return self.state.stats

    @property
    def source(self) -> Source:
        return self.state.source

    @property
    def shown_image(self) -> np.ndarray | None:
        return self.state.shown_image

    @property
    def strip_images(self) -> np.ndarray | None:
        return self.state.strip_images

    @property
    def grid_latents(self) -> torch.Tensor | None:
        return self.state.grid_latents

    @property
    def grid_seeds(self) -> list[int]:
        return self.state.grid_seeds

    @property
    def last_result(self) -> RenderResult | None:
        return self.state.last_result

    @property
    def last_compare(self) -> RenderResult | None:
        return self.state.last_compare

    # State held by the pieces.

    @property
    def anchors(self) -> list[Anchor]:
        return self.path_controls.anchors

    @property
    def strokes(self) -> StrokeStack:
        return self.brush_controls.strokes

    @property
    def direction_sliders(self) -> list[QSlider]:
        return self.direction_controls.sliders

    def _set_enabled(self, enabled: bool) -> None:
        self.tabs.setEnabled(enabled)
        self.seed_controls.set_controls_enabled(enabled)
        self.model_bar.set_compare_enabled(enabled)

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        self._renders.stop()
        for runner in (self._render_runner, self._grid_runner, self._analysis_runner):
            runner.shutdown()
