"""The latent studio: sample, interpolate, steer and paint in the latent space of a GAN or VAE.

Widgets only; the engines are in :mod:`backends.latent`. Three task slots keep
the window responsive: ``render`` (the edited image, latest request wins,
debounced), ``grid`` (seed grid and interpolation strips) and ``analysis``
(opening checkpoints, unit statistics, principal and class directions). Every
render carries a request id; a result older than the one on screen is
dropped, so a fast slider drag renders only the newest positions.

Layout: a model bar on top; the seed grid on the left (click a cell to show
it, shift-click to add it as an interpolation anchor); the image views in
the middle (encoded original, edited image with the brush canvas and its
pooled-mask overlay, the compare model's image) with an interpolation strip
below; tabs on the right for interpolation, directions, brushes, VAE images
and export.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.context import AppContext

# Slider positions per unit: the interpolation slider runs 0..1000 (t = v / 1000),
# direction sliders move in steps of 0.1 sigma (as GANSpace).
_T_STEPS = 1000
_SIGMA_STEPS = 10
# Debounce for renders: collapses a burst of slider events into one request
# while staying far below a frame (16 ms).
_DEBOUNCE_MS = 4
# Overlays tint lightly and outline strongly, so the edit under them stays visible.
_OVERLAY = QColor(255, 120, 0, 60)
_OVERLAY_SELECTED = QColor(0, 170, 255, 60)
_LIVE = QColor(255, 40, 40, 90)


# ---------------------------------------------------------------- small widgets


def qimage_from_array(image: np.ndarray) -> QImage:
    """A copy of a uint8 (H, W, 1|3) array as a QImage."""
    array = np.ascontiguousarray(image)
    h, w = array.shape[:2]
    if array.ndim == 2 or array.shape[2] == 1:
        grey = np.ascontiguousarray(array.reshape(h, w))
        return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    rgb = np.ascontiguousarray(array[:, :, :3])
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageCanvas(QWidget):
    """One image, scaled up with square pixels, an optional mask overlay and brush painting.

    Signals
    -------
    sig_painting(object)   the mask (H, W) bool of the stroke being painted, while dragging
    sig_painted(object)    the finished stroke's mask, on release
    """

    sig_painting = Signal(object)
    sig_painted = Signal(object)

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self.overlays: list[tuple[np.ndarray, QColor]] = []
        self.paint_enabled = False
        self.brush_radius = 2.0  # in image pixels
        self._stroke: np.ndarray | None = None
        self.setMinimumSize(120, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(300, 320)

    def set_image(self, image: np.ndarray | None) -> None:
        self.setToolTip(self.caption)  # the full text when the caption is elided
        self.image = image
        self._qimage = qimage_from_array(image) if image is not None else None
        self.update()

    def set_overlays(self, overlays: list[tuple[np.ndarray, QColor]]) -> None:
        self.overlays = overlays
        self.update()

    @property
    def painting(self) -> bool:
        return self._stroke is not None

    def image_rect(self) -> QRectF:
        """Where the image is drawn: the largest whole-number scale that fits, centred."""
        if self.image is None:
            return QRectF()
        h, w = self.image.shape[:2]
        top = 20
        avail_w, avail_h = self.width(), self.height() - top
        scale = max(1, min(avail_w // w, avail_h // h))
        x = (self.width() - w * scale) / 2
        y = top + (avail_h - h * scale) / 2
        return QRectF(x, y, w * scale, h * scale)

    def to_image_coords(self, pos: QPointF) -> tuple[float, float] | None:
        rect = self.image_rect()
        if self.image is None or rect.isEmpty():
            return None
        h, w = self.image.shape[:2]
        return ((pos.x() - rect.x()) / rect.width() * w, (pos.y() - rect.y()) / rect.height() * h)

    def _dab(self, pos: QPointF) -> None:
        coords = self.to_image_coords(pos)
        if coords is None or self._stroke is None:
            return
        x, y = coords
        h, w = self._stroke.shape
        yy, xx = np.mgrid[0:h, 0:w]
        self._stroke |= (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= self.brush_radius**2
        self.sig_painting.emit(self._stroke.copy())
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.paint_enabled and self.image is not None and event.button() == Qt.MouseButton.LeftButton:
            self._stroke = np.zeros(self.image.shape[:2], bool)
            self._dab(event.position())
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke is not None:
            self._dab(event.position())
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke is not None:
            stroke, self._stroke = self._stroke, None
            self.update()
            if stroke.any():
                self.sig_painted.emit(stroke)
        else:
            super().mouseReleaseEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        caption = painter.fontMetrics().elidedText(self.caption, Qt.TextElideMode.ElideMiddle, self.width() - 4)
        painter.drawText(QRect(0, 0, self.width(), 18), Qt.AlignmentFlag.AlignCenter, caption)
        if self._qimage is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no image")
            return
        rect = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(rect, self._qimage)
        layers = list(self.overlays)
        if self._stroke is not None:
            layers.append((self._stroke.astype(np.float32), _LIVE))
        for mask, colour in layers:
            painter.drawImage(rect, _mask_image(mask, colour))
            painter.setPen(QPen(QColor(colour.red(), colour.green(), colour.blue()), 2))
            h, w = mask.shape
            sx, sy = rect.width() / w, rect.height() / h
            for x1, y1, x2, y2 in _mask_edges(mask > 0):
                painter.drawLine(QPointF(rect.x() + x1 * sx, rect.y() + y1 * sy),
                                 QPointF(rect.x() + x2 * sx, rect.y() + y2 * sy))
        if self.paint_enabled:
            painter.setPen(QPen(QColor(255, 120, 0), 1, Qt.PenStyle.DashLine))
            painter.drawRect(rect.adjusted(-1, -1, 0, 0))


def _mask_edges(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Unit segments (x1, y1, x2, y2) in pixel corners between masked and unmasked pixels."""
    padded = np.pad(mask, 1)
    edges = []
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # between column x-1 and x, per row
    for y, x in zip(*np.nonzero(vertical), strict=True):
        edges.append((int(x), int(y), int(x), int(y) + 1))
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # between row y-1 and y, per column
    for y, x in zip(*np.nonzero(horizontal), strict=True):
        edges.append((int(x), int(y), int(x) + 1, int(y)))
    return edges


def _mask_image(mask: np.ndarray, colour: QColor) -> QImage:
    """A coloured, translucent ARGB image of a mask in [0, 1]."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = colour.red(), colour.green(), colour.blue()
    rgba[..., 3] = (np.clip(mask, 0, 1) * colour.alpha()).astype(np.uint8)
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


class SeedGrid(QWidget):
    """Thumbnails in a grid; shows the current cell and numbered anchors.

    Signals
    -------
    sig_cell_clicked(int, bool)   a cell index, and whether shift was held (add as anchor)
    """

    sig_cell_clicked = Signal(int, bool)

    def __init__(self, columns: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: np.ndarray | None = None
        self.labels: list[str] = []
        self.current: int | None = None
        self.anchors: dict[int, int] = {}  # cell -> anchor number
        self.columns = columns
        self.setMinimumSize(120, 80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_images(self, images: np.ndarray | None, labels: list[str] | None = None) -> None:
        self.images = images
        self.labels = labels or []
        self._qimages = [qimage_from_array(i) for i in images] if images is not None else []
        self.update()

    def _layout(self) -> tuple[int, int, float]:
        n = len(self._qimages) if self.images is not None else 0
        if n == 0:
            return 0, 0, 0.0
        cols = self.columns or max(1, math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        cell = min(self.width() / cols, (self.height()) / rows)
        return cols, rows, cell

    def cell_rect(self, index: int) -> QRectF:
        cols, _, cell = self._layout()
        r, c = divmod(index, cols)
        return QRectF(c * cell + 2, r * cell + 2, cell - 4, cell - 4)

    def index_at(self, pos: QPointF) -> int | None:
        cols, rows, cell = self._layout()
        if cell <= 0:
            return None
        c, r = int(pos.x() // cell), int(pos.y() // cell)
        index = r * cols + c
        if 0 <= c < cols and 0 <= r < rows and index < len(self._qimages):
            return index
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        index = self.index_at(event.position())
        if index is not None:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.sig_cell_clicked.emit(index, shift)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self.images is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "open a model")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for i, image in enumerate(self._qimages):
            rect = self.cell_rect(i)
            painter.drawImage(rect, image)
            if i == self.current:
                painter.setPen(QPen(QColor(0, 170, 255), 3))
                painter.drawRect(rect)
            if i in self.anchors:
                painter.setPen(QPen(QColor(255, 120, 0), 2))
                painter.drawRect(rect.adjusted(2, 2, -2, -2))
                badge = QRectF(rect.x() + 2, rect.y() + 2, 16, 14)
                painter.fillRect(badge, QColor(255, 120, 0))
                painter.setPen(QColor("white"))
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(self.anchors[i]))
            if i < len(self.labels) and self.labels[i] and rect.height() > 40:
                painter.setPen(QColor(255, 255, 255, 200))
                painter.drawText(rect.adjusted(2, 0, -2, -1),
                                 Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight, self.labels[i])


class PlanePad(QWidget):
    """A square pad; dragging the dot picks (u, v) in [0, 1]^2 on the four-corner plane.

    Signals
    -------
    sig_moved(float, float)   u (left → right), v (top → bottom)
    """

    sig_moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.u, self.v = 0.5, 0.5
        self.setFixedSize(150, 150)

    def set_position(self, u: float, v: float) -> None:
        self.u, self.v = min(1.0, max(0.0, u)), min(1.0, max(0.0, v))
        self.update()
        self.sig_moved.emit(self.u, self.v)

    def _move(self, event: QMouseEvent) -> None:
        pos = event.position()
        self.set_position((pos.x() - 6) / (self.width() - 12), (pos.y() - 6) / (self.height() - 12))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._move(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._move(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(6, 6, self.width() - 12, self.height() - 12)
        painter.fillRect(area, self.palette().color(self.backgroundRole()).darker(110))
        painter.setPen(QPen(QColor(128, 128, 128), 1))
        painter.drawRect(area)
        for i, (x, y) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
            painter.drawText(QRectF(area.x() + x * (area.width() - 14), area.y() + y * (area.height() - 14),
                                    14, 14), Qt.AlignmentFlag.AlignCenter, str(i + 1))
        dot = QPointF(area.x() + self.u * area.width(), area.y() + self.v * area.height())
        painter.setBrush(QColor(255, 120, 0))
        painter.drawEllipse(dot, 6, 6)


@dataclass
class _Anchor:
    label: str
    z: Any  # torch.Tensor (d,)
    seed: int | None = None
    cell: int | None = None


# ---------------------------------------------------------------- the panel


class LatentPanel(QWidget):
    """Sample grids, interpolation, direction sliders and feature brushes for a DCGAN or VAE.

    Signals
    -------
    sig_model_loaded(str)      a model was opened (its name)
    sig_grid_shown(int)        the seed grid was redrawn (number of cells)
    sig_image_shown(int)       the edited image was redrawn (the request id it answers)
    sig_strip_shown(int)       an interpolation strip was redrawn (number of frames)
    sig_analysis_done(str)     statistics or directions finished ("stats", "pca", "class")
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
        self.anchors: list[_Anchor] = []
        self.encoded = None  # (label, z, original image uint8)
        self.source = "cell"  # where the base latent comes from: cell | path | plane | encoded
        self.directions: list = []  # backends.latent.directions.Direction
        self.direction_sliders: list[QSlider] = []
        self.strip_images: np.ndarray | None = None
        self.last_result = None  # RenderResult on screen
        self.last_compare = None
        self.shown_image: np.ndarray | None = None
        self._live_mask: np.ndarray | None = None
        self._ids = itertools.count(1)
        self._latest_request = 0
        self._shown_request = 0
        self._request_time: dict[int, float] = {}
        # What happened to render requests; read by tests and the latency benchmark.
        self.render_stats = {"requested": 0, "submitted": 0, "rendered": 0, "shown": 0, "stale": 0}
        self.latencies_ms: list[float] = []
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._submit_render)
        from backends.latent.strokes import StrokeStack

        self.strokes = StrokeStack()
        self._build()
        context.events.sig_checkpoint_opened.connect(self._on_checkpoint_broadcast)
        self._fill_model_choices()
        self._set_enabled(False)
        self._autoloaded = False

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().showEvent(event)
        if self.autoload_demo and not self._autoloaded and self.model is None:
            self._autoloaded = True
            demo = self.model_combo.itemData(0)
            if demo:
                self.open_model(demo)

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(6, 6, 6, 6)
        root.addLayout(self._build_model_bar())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_grid_side())
        splitter.addWidget(self._build_views())
        self.tabs = QTabWidget()
        self.tabs.addTab(self._scroll(self._build_interpolate_tab()), "Path")
        self.tabs.addTab(self._scroll(self._build_directions_tab()), "Directions")
        self.tabs.addTab(self._scroll(self._build_brush_tab()), "Brush")
        self.tabs.addTab(self._scroll(self._build_image_tab()), "Encode")
        self.tabs.addTab(self._scroll(self._build_export_tab()), "Export")
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

    @staticmethod
    def _scroll(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(widget)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        return area

    def _build_model_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Model"))
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(120)
        self.model_combo.activated.connect(self._on_model_chosen)
        bar.addWidget(self.model_combo)
        self.open_button = QPushButton("Open checkpoint…")
        self.open_button.clicked.connect(self._ask_open_model)
        bar.addWidget(self.open_button)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Compare with"))
        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumWidth(100)
        self.compare_combo.activated.connect(self._on_compare_chosen)
        bar.addWidget(self.compare_combo)
        self.compare_open = QPushButton("Open…")
        self.compare_open.clicked.connect(self._ask_open_compare)
        bar.addWidget(self.compare_open)
        self.model_info = QLabel("")
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long checkpoint path must not widen the window: the label shrinks, the tooltip keeps it all.
        self.model_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.model_info, 1)
        return bar

    def _build_grid_side(self) -> QWidget:
        side = QWidget()
        side.setMinimumWidth(180)
        layout = QVBoxLayout(side)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.valueChanged.connect(lambda _v: self.refresh_grid())
        row.addWidget(self.seed_spin)
        self.reroll_button = QPushButton("Reroll")
        self.reroll_button.setToolTip("Jump to a fresh block of seeds")
        self.reroll_button.clicked.connect(self.reroll)
        row.addWidget(self.reroll_button)
        row.addWidget(QLabel("Cells"))
        self.cells_spin = QSpinBox()
        self.cells_spin.setRange(1, 64)
        self.cells_spin.setValue(16)
        self.cells_spin.valueChanged.connect(lambda _v: self.refresh_grid())
        row.addWidget(self.cells_spin)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.trunc_check = QCheckBox("Truncation")
        self.trunc_check.setToolTip("GAN: redraw latent entries beyond this magnitude (fewer, more typical images)")
        self.trunc_check.toggled.connect(lambda _v: self.refresh_grid())
        row.addWidget(self.trunc_check)
        self.trunc_spin = QDoubleSpinBox()
        self.trunc_spin.setRange(0.1, 4.0)
        self.trunc_spin.setSingleStep(0.1)
        self.trunc_spin.setValue(1.5)
        self.trunc_spin.valueChanged.connect(lambda _v: self.trunc_check.isChecked() and self.refresh_grid())
        row.addWidget(self.trunc_spin)
        self.temp_label = QLabel("Temperature")
        row.addWidget(self.temp_label)
        self.temp_spin = QDoubleSpinBox()
        self.temp_spin.setToolTip("VAE: scale of prior samples; below 1 gives more average images")
        self.temp_spin.setRange(0.05, 3.0)
        self.temp_spin.setSingleStep(0.1)
        self.temp_spin.setValue(1.0)
        self.temp_spin.valueChanged.connect(lambda _v: self.refresh_grid())
        row.addWidget(self.temp_spin)
        layout.addLayout(row)
        self.grid = SeedGrid()
        self.grid.sig_cell_clicked.connect(self._on_cell_clicked)
        layout.addWidget(self.grid, 1)
        hint = QLabel("Click: show a cell · Shift-click: add it as an anchor")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        return side

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

    def _build_interpolate_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.anchor_list = QListWidget()
        self.anchor_list.setMaximumHeight(120)
        layout.addWidget(QLabel("Anchors (in order)"))
        layout.addWidget(self.anchor_list)
        row = QHBoxLayout()
        self.add_anchor_button = QPushButton("Add shown")
        self.add_anchor_button.setToolTip("Add the latent on screen (with its direction edits) as an anchor")
        self.add_anchor_button.clicked.connect(self.add_current_as_anchor)
        row.addWidget(self.add_anchor_button)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected_anchor)
        row.addWidget(remove)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear_anchors)
        row.addWidget(clear)
        layout.addLayout(row)
        form = QFormLayout()
        self.method_combo = QComboBox()
        self.method_combo.addItems(["slerp", "lerp"])
        self.method_combo.setToolTip("slerp keeps Gaussian latents at a typical norm; lerp for encoder means")
        self.method_combo.currentTextChanged.connect(lambda _t: self._on_path_changed())
        form.addRow("Path", self.method_combo)
        self.t_slider = QSlider(Qt.Orientation.Horizontal)
        self.t_slider.setRange(0, _T_STEPS)
        self.t_slider.valueChanged.connect(self._on_t_changed)
        form.addRow("Position", self.t_slider)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(2, 64)
        self.steps_spin.setValue(9)
        form.addRow("Strip steps", self.steps_spin)
        layout.addLayout(form)
        self.strip_button = QPushButton("Show strip")
        self.strip_button.clicked.connect(self.render_strip)
        layout.addWidget(self.strip_button)
        plane_box = QGroupBox("Plane of four corners (anchors 1-4)")
        plane_layout = QHBoxLayout(plane_box)
        self.plane_check = QCheckBox("Use plane")
        self.plane_check.toggled.connect(lambda _v: self._on_path_changed())
        plane_layout.addWidget(self.plane_check)
        self.plane_pad = PlanePad()
        self.plane_pad.sig_moved.connect(self._on_plane_moved)
        plane_layout.addWidget(self.plane_pad)
        layout.addWidget(plane_box)
        layout.addStretch(1)
        return tab

    def _build_directions_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        box = QGroupBox("Principal directions (PCA of an inner layer)")
        form = QFormLayout(box)
        self.pca_layer = QComboBox()
        form.addRow("Layer", self.pca_layer)
        self.pca_count = QSpinBox()
        self.pca_count.setRange(1, 16)
        self.pca_count.setValue(6)
        form.addRow("Components", self.pca_count)
        self.pca_button = QPushButton("Compute")
        self.pca_button.clicked.connect(self.compute_principal_directions)
        form.addRow(self.pca_button)
        layout.addWidget(box)
        box = QGroupBox("Class direction")
        form = QFormLayout(box)
        self.class_source = QComboBox()
        self.class_target = QComboBox()
        form.addRow("From", self.class_source)
        form.addRow("To", self.class_target)
        self.class_method = QComboBox()
        self.class_method.addItem("difference of class means", "mean")
        self.class_method.addItem("linear boundary normal", "boundary")
        form.addRow("Method", self.class_method)
        self.class_button = QPushButton("Add direction")
        self.class_button.clicked.connect(self.compute_class_direction)
        form.addRow(self.class_button)
        layout.addWidget(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Slider range ±"))
        self.sigma_range = QSpinBox()
        self.sigma_range.setRange(1, 20)
        self.sigma_range.setValue(5)
        self.sigma_range.setSuffix(" σ")
        self.sigma_range.valueChanged.connect(self._on_sigma_range)
        row.addWidget(self.sigma_range)
        reset = QPushButton("Zero all")
        reset.clicked.connect(self.reset_directions)
        row.addWidget(reset)
        clear = QPushButton("Remove all")
        clear.clicked.connect(self.clear_directions)
        row.addWidget(clear)
        layout.addLayout(row)
        self.sliders_box = QWidget()
        self.sliders_layout = QGridLayout(self.sliders_box)
        self.sliders_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sliders_box)
        layout.addStretch(1)
        return tab

    def _build_brush_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.brush_check = QCheckBox("Paint on the image")
        self.brush_check.toggled.connect(self._on_brush_toggled)
        layout.addWidget(self.brush_check)
        form = QFormLayout()
        self.brush_layer = QComboBox()
        self.brush_layer.currentIndexChanged.connect(lambda _i: self._update_overlay())
        form.addRow("Layer", self.brush_layer)
        self.concept_combo = QComboBox()
        self.concept_combo.currentIndexChanged.connect(self._on_concept_changed)
        form.addRow("Concept", self.concept_combo)
        self.units_edit = QLineEdit()
        self.units_edit.setPlaceholderText("unit numbers, e.g. 3, 17, 42")
        self.units_edit.setToolTip("Used when the concept is 'units by hand'")
        form.addRow("Units", self.units_edit)
        mode_row = QHBoxLayout()
        self.draw_radio = QRadioButton("Draw")
        self.draw_radio.setToolTip("Set the units to their 99th-percentile activation under the mask")
        self.remove_radio = QRadioButton("Remove")
        self.remove_radio.setToolTip("Set the units to zero under the mask")
        self.draw_radio.setChecked(True)
        group = QButtonGroup(tab)
        group.addButton(self.draw_radio)
        group.addButton(self.remove_radio)
        mode_row.addWidget(self.draw_radio)
        mode_row.addWidget(self.remove_radio)
        form.addRow("Mode", mode_row)
        self.intensity_combo = QComboBox()
        for name, count in (("low", 4), ("medium", 10), ("high", 15)):
            self.intensity_combo.addItem(f"{name} ({count} units)", count)
        self.intensity_combo.setCurrentIndex(1)
        form.addRow("Intensity", self.intensity_combo)
        self.radius_spin = QDoubleSpinBox()
        self.radius_spin.setRange(0.5, 10.0)
        self.radius_spin.setValue(2.0)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.valueChanged.connect(lambda v: setattr(self.edit_view, "brush_radius", v))
        form.addRow("Brush radius", self.radius_spin)
        self.pool_combo = QComboBox()
        self.pool_combo.addItem("max: a touched cell is fully on", "max")
        self.pool_combo.addItem("mean: partial cells, softer", "mean")
        form.addRow("Mask pooling", self.pool_combo)
        self.overlay_check = QCheckBox("Show the mask pooled to the layer grid")
        self.overlay_check.setChecked(True)
        self.overlay_check.toggled.connect(lambda _v: self._update_overlay())
        form.addRow(self.overlay_check)
        layout.addLayout(form)
        layout.addWidget(QLabel("Strokes (oldest first)"))
        self.history = QListWidget()
        self.history.setIconSize(QSize(28, 28))
        self.history.currentRowChanged.connect(lambda _r: self._update_overlay())
        layout.addWidget(self.history)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton("Redo")
        self.redo_button.clicked.connect(self.redo)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_stroke(self.history.currentRow()))
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset_strokes)
        for b in (self.undo_button, self.redo_button, self.delete_button, self.reset_button):
            row.addWidget(b)
        layout.addLayout(row)
        return tab

    def _build_image_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        info = QLabel("Encode a real image with the VAE's encoder, then edit it with the sliders "
                      "and brushes. The original is shown next to the reconstruction.")
        info.setWordWrap(True)
        layout.addWidget(info)
        self.encode_file_button = QPushButton("Encode an image file (PNG, JPG)…")
        self.encode_file_button.clicked.connect(self._ask_encode_file)
        layout.addWidget(self.encode_file_button)
        self.invert_check = QCheckBox("Invert (dark object on light ground)")
        layout.addWidget(self.invert_check)
        row = QHBoxLayout()
        row.addWidget(QLabel("Dataset image #"))
        self.dataset_spin = QSpinBox()
        self.dataset_spin.setRange(0, 2999)
        row.addWidget(self.dataset_spin)
        self.encode_dataset_button = QPushButton("Encode")
        self.encode_dataset_button.clicked.connect(lambda: self.encode_dataset_image(self.dataset_spin.value()))
        row.addWidget(self.encode_dataset_button)
        layout.addLayout(row)
        self.anchor_encoded_button = QPushButton("Add encoded image as an anchor")
        self.anchor_encoded_button.clicked.connect(self._anchor_encoded)
        layout.addWidget(self.anchor_encoded_button)
        layout.addStretch(1)
        return tab

    def _build_export_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        buttons = (
            ("Save image as PNG…", lambda: self._ask_path("Save image", "PNG (*.png)", self.export_image_png)),
            ("Save grid as PNG…", lambda: self._ask_path("Save grid", "PNG (*.png)", self.export_grid_png)),
            ("Save strip as GIF…", lambda: self._ask_path("Save GIF", "GIF (*.gif)", self.export_gif)),
            ("Save strip as MP4…", lambda: self._ask_path("Save MP4", "MP4 (*.mp4)", self.export_mp4)),
            ("Save latents (.npz)…", lambda: self._ask_path("Save latents", "Latents (*.npz)", self.save_latents)),
            ("Load latents as anchors…", self._ask_load_latents),
        )
        self.export_buttons: dict[str, QPushButton] = {}
        for text, slot in buttons:
            button = QPushButton(text)
            button.clicked.connect(slot)
            layout.addWidget(button)
            self.export_buttons[text] = button
        from backends.latent.export import mp4_available

        if not mp4_available():
            mp4 = self.export_buttons["Save strip as MP4…"]
            mp4.setEnabled(False)
            mp4.setToolTip("MP4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg")
        self.gif_fps = QSpinBox()
        self.gif_fps.setRange(1, 60)
        self.gif_fps.setValue(12)
        form = QFormLayout()
        form.addRow("Frames per second", self.gif_fps)
        layout.addLayout(form)
        layout.addStretch(1)
        return tab

    # ------------------------------------------------------------ model choice

    def _fill_model_choices(self) -> None:
        from backends.latent.catalog import demo_names

        self.model_combo.clear()
        self.compare_combo.clear()
        self.compare_combo.addItem("(none)", None)
        for name in demo_names():
            self.model_combo.addItem(f"demo: {name}", name)
            self.compare_combo.addItem(f"demo: {name}", name)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("(open a checkpoint)", None)

    def _remember_choice(self, path: str) -> None:
        for combo in (self.model_combo, self.compare_combo):
            if combo.findData(path) < 0:
                combo.addItem(Path(path).name if Path(path).name else path, path)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.tabs, self.seed_spin, self.reroll_button, self.cells_spin, self.compare_combo,
                       self.compare_open, self.trunc_check, self.trunc_spin, self.temp_spin):
            widget.setEnabled(enabled)

    def _on_model_chosen(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data:
            self.open_model(data)

    def _on_compare_chosen(self, index: int) -> None:
        data = self.compare_combo.itemData(index)
        if data:
            self.open_compare(data)
        else:
            self.set_compare_model(None)

    def _ask_open_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a DCGAN or VAE checkpoint (or run) folder",
                                                str(self.context.runs_dir))
        if path:
            self.open_model(path)

    def _ask_open_compare(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a checkpoint to compare",
                                                str(self.context.runs_dir))
        if path:
            self.open_compare(path)

    def _on_checkpoint_broadcast(self, path: Path) -> None:
        """File → Open checkpoint: take it when it is a GAN or VAE; other kinds are for other panels."""
        from backends.latent.catalog import LATENT_KINDS, checkpoint_kind

        if checkpoint_kind(path) in LATENT_KINDS:
            self.open_model(str(path))

    def open_model(self, path: str | Path) -> None:
        """Open a checkpoint, run folder or demo name on a worker; errors go to the message bar."""

        def load(progress=None):  # noqa: ANN001, ANN202 - runs on the worker
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
            stats = analysis.unit_statistics_for(model, classifier, samples=512)
            return model, classifier, stats, note

        self.context.show_status(f"Opening {path}…")
        self._analysis_runner.submit(load, on_done=lambda r: self._on_model_loaded(str(path), r),
                                     on_error=self._on_error)

    def _on_model_loaded(self, path: str, result: tuple) -> None:
        model, classifier, stats, note = result
        self.model, self.classifier, self.stats = model, classifier, stats
        self._remember_choice(path)
        index = self.model_combo.findData(path)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self.anchors.clear()
        self.encoded = None
        self.directions.clear()
        self.strokes = type(self.strokes)()
        self.source = "cell"
        self.current_cell = 0
        if self.compare_model is not None and self.compare_model.latent_dim != model.latent_dim:
            self.set_compare_model(None)
        is_gan = model.kind == "dcgan"
        for w in (self.trunc_check, self.trunc_spin):
            w.setVisible(is_gan)
        for w in (self.temp_label, self.temp_spin):
            w.setVisible(not is_gan)
        self.tabs.setTabEnabled(3, model.can_encode)
        self.pca_layer.clear()
        self.brush_layer.clear()
        for name, (c, h, w) in model.brush_layers.items():
            self.pca_layer.addItem(f"{name} ({c}×{h}×{w})", name)
            self.brush_layer.addItem(f"{name} ({c} units, {h}×{w})", name)
        self.brush_layer.setCurrentIndex(max(0, self.brush_layer.count() - 1))
        self.concept_combo.clear()
        names = classifier.class_names if classifier is not None else model.class_names()
        for name in (stats.class_names if stats is not None else []):
            self.concept_combo.addItem(name, name)
        self.concept_combo.addItem("units by hand", None)
        self.class_source.clear()
        self.class_target.clear()
        for i, name in enumerate(names):
            self.class_source.addItem(name, i)
            self.class_target.addItem(name, i)
        if len(names) > 1:
            self.class_target.setCurrentIndex(1)
        self.class_button.setEnabled(bool(names))
        step = f", step {model.step}" if model.step is not None else ""
        self.model_info.setText(f"{model.kind.upper()} · z {model.latent_dim} · "
                                f"{model.image_size}×{model.image_size}{step} · {model.source}")
        self.model_info.setToolTip(model.source)
        if note:
            self.context.show_status(note)
        self.edit_view.caption = model.name
        self._set_enabled(True)
        self._rebuild_direction_sliders()
        self._refresh_anchor_list()
        self._refresh_history()
        self._update_views_visibility()
        self.refresh_grid()
        self.sig_model_loaded.emit(model.name)
        self.context.show_status(f"Opened {model.name}")

    def open_compare(self, path: str | Path) -> None:
        """Open a second checkpoint that renders the same latents and edits side by side."""

        def load(progress=None):  # noqa: ANN001, ANN202 - runs on the worker
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
            self.compare_combo.setCurrentIndex(0)
            return
        self._remember_choice(path)
        index = self.compare_combo.findData(path)
        if index >= 0:
            self.compare_combo.setCurrentIndex(index)
        self.compare_levels = stats.levels()
        self.set_compare_model(model)
        self.sig_analysis_done.emit("compare")

    def set_compare_model(self, model) -> None:  # noqa: ANN001
        self.compare_model = model
        self.compare_view.caption = model.name if model is not None else "Compare"
        self._update_views_visibility()
        self.schedule_render()

    # ------------------------------------------------------------ grid

    def reroll(self) -> None:
        self.seed_spin.setValue(self.seed_spin.value() + self.cells_spin.value())

    def _truncation(self) -> float | None:
        return self.trunc_spin.value() if self.trunc_check.isChecked() and self.model.kind == "dcgan" else None

    def _temperature(self) -> float:
        return self.temp_spin.value() if self.model.kind == "vae" else 1.0

    def refresh_grid(self) -> None:
        """Recompute the grid's latents from the seeds and render it (on the grid worker)."""
        if self.model is None:
            return
        from backends.latent.render import render

        seeds = list(range(self.seed_spin.value(), self.seed_spin.value() + self.cells_spin.value()))
        try:
            z = self.model.latents_for_seeds(seeds, self._truncation(), self._temperature())
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

    def _on_grid_rendered(self, model, result) -> None:  # noqa: ANN001
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
        self.source = "cell"
        self._sync_grid_marks()
        self.schedule_render()

    # ------------------------------------------------------------ anchors and paths

    def add_cell_as_anchor(self, index: int) -> None:
        seed = self.grid_seeds[index]
        self.anchors.append(_Anchor(f"seed {seed}", self.grid_latents[index].clone(), seed, index))
        self._anchors_changed()

    def add_current_as_anchor(self) -> None:
        z = self.current_latent()
        if z is None:
            return
        seed = self.grid_seeds[self.current_cell] if self.source == "cell" and self.current_cell is not None else None
        label = f"seed {seed}" if seed is not None else f"{self.source} latent"
        if self.directions and any(s.value() for s in self.direction_sliders):
            label += " (edited)"
        self.anchors.append(_Anchor(label, z.clone(), seed))
        self._anchors_changed()

    def clear_anchors(self) -> None:
        self.anchors.clear()
        if self.source in ("path", "plane"):
            self.source = "cell"
        self._anchors_changed()

    def _remove_selected_anchor(self) -> None:
        row = self.anchor_list.currentRow()
        if 0 <= row < len(self.anchors):
            del self.anchors[row]
            self._anchors_changed()

    def _anchors_changed(self) -> None:
        self._refresh_anchor_list()
        self._sync_grid_marks()
        if len(self.anchors) >= 2 and self.source in ("path", "plane"):
            self.schedule_render()

    def _refresh_anchor_list(self) -> None:
        self.anchor_list.clear()
        for i, anchor in enumerate(self.anchors):
            self.anchor_list.addItem(f"{i + 1}. {anchor.label}")

    def _on_t_changed(self, _value: int) -> None:
        if len(self.anchors) >= 2:
            self.source = "path"
            self._sync_grid_marks()
            self.schedule_render()

    def _on_plane_moved(self, _u: float, _v: float) -> None:
        if len(self.anchors) >= 4:
            self.plane_check.setChecked(True)
            self.source = "plane"
            self._sync_grid_marks()
            self.schedule_render()

    def _on_path_changed(self) -> None:
        if self.plane_check.isChecked() and len(self.anchors) >= 4:
            self.source = "plane"
        elif len(self.anchors) >= 2 and self.source in ("path", "plane"):
            self.source = "path"
        self.schedule_render()

    def base_latent(self):  # noqa: ANN201 - torch.Tensor | None
        """The latent before direction edits: a cell, a point on the path or plane, or an encoding."""
        from backends.latent import interpolate

        if self.model is None:
            return None
        method = self.method_combo.currentText()
        if self.source == "plane" and len(self.anchors) >= 4:
            corners = [a.z for a in self.anchors[:4]]
            return interpolate.plane_point(corners, self.plane_pad.u, self.plane_pad.v, method)
        if self.source == "path" and len(self.anchors) >= 2:
            return interpolate.path_point([a.z for a in self.anchors], self.t_slider.value() / _T_STEPS, method)
        if self.source == "encoded" and self.encoded is not None:
            return self.encoded[1]
        if self.grid_latents is None or self.current_cell is None:
            return None
        return self.grid_latents[min(self.current_cell, len(self.grid_latents) - 1)]

    def current_latent(self):  # noqa: ANN201 - torch.Tensor | None
        """The latent on screen: the base latent moved along every direction slider."""
        from backends.latent.directions import apply_directions

        z = self.base_latent()
        if z is None or not self.directions:
            return z
        values = [s.value() / _SIGMA_STEPS for s in self.direction_sliders]
        return apply_directions(z, self.directions, values)

    def path_latents(self, steps: int):  # noqa: ANN201 - torch.Tensor
        """``steps`` latents along the anchors (or the plane's diagonal), with direction edits."""
        import torch

        from backends.latent import interpolate
        from backends.latent.directions import apply_directions

        method = self.method_combo.currentText()
        if self.plane_check.isChecked() and len(self.anchors) >= 4:
            corners = [a.z for a in self.anchors[:4]]
            zs = torch.stack([interpolate.plane_point(corners, i / (steps - 1), i / (steps - 1), method)
                              for i in range(steps)])
        else:
            zs = interpolate.strip([a.z for a in self.anchors], steps, method)
        if self.directions:
            values = [s.value() / _SIGMA_STEPS for s in self.direction_sliders]
            zs = torch.stack([apply_directions(z, self.directions, values) for z in zs])
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

    def _on_strip_rendered(self, model, result) -> None:  # noqa: ANN001
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
        steps = len(self.strip_images)
        self.plane_check.setChecked(False)
        self.t_slider.setValue(round(index / (steps - 1) * _T_STEPS))
        self.source = "path"
        self.schedule_render()

    # ------------------------------------------------------------ directions

    def compute_principal_directions(self) -> None:
        from backends.latent import analysis

        layer = self.pca_layer.currentData()
        if self.model is None or layer is None:
            return
        self.pca_button.setEnabled(False)
        self._analysis_runner.submit(
            analysis.principal_directions_for, self.model, layer, 1000, self.pca_count.value(),
            on_done=self._on_pca_done, on_error=self._on_error,
        )

    def _on_pca_done(self, found: list) -> None:
        self.pca_button.setEnabled(True)
        self.directions = [d for d in self.directions if "PC" not in d.name] + list(found)
        self._rebuild_direction_sliders()
        self.sig_analysis_done.emit("pca")

    def compute_class_direction(self) -> None:
        from backends.latent import analysis

        if self.model is None or self.class_source.count() == 0:
            return
        source, target = self.class_source.currentData(), self.class_target.currentData()
        if source == target:
            self.context.show_error("pick two different classes for a class direction")
            return
        model, classifier, method = self.model, self.classifier, self.class_method.currentData()
        dataset = self.dataset

        def work(progress=None):  # noqa: ANN001, ANN202 - runs on the worker
            data = dataset
            if model.can_encode and data is None:
                data = analysis.dataset_for(model, limit=2000)
            found = analysis.class_direction_for(model, source, target, method, classifier, data,
                                                 progress=progress)
            return found, data

        self.class_button.setEnabled(False)
        self._analysis_runner.submit(work, on_done=self._on_class_done, on_error=self._on_error)

    def _on_class_done(self, result: tuple) -> None:
        found, data = result
        self.class_button.setEnabled(True)
        if data is not None:
            self.dataset = data
        self.directions.append(found)
        self._rebuild_direction_sliders()
        self.sig_analysis_done.emit("class")

    def _rebuild_direction_sliders(self) -> None:
        while self.sliders_layout.count():
            item = self.sliders_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.direction_sliders = []
        k = self.sigma_range.value()
        for row, direction in enumerate(self.directions):
            label = QLabel(direction.name)
            label.setToolTip(f"σ = {direction.sigma:.3g}; score {direction.score:.3g}")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(-k * _SIGMA_STEPS, k * _SIGMA_STEPS)
            value = QLabel("0.0σ")
            value.setMinimumWidth(44)
            slider.valueChanged.connect(lambda v, lab=value: self._on_direction_moved(v, lab))
            self.sliders_layout.addWidget(label, row, 0)
            self.sliders_layout.addWidget(slider, row, 1)
            self.sliders_layout.addWidget(value, row, 2)
            self.direction_sliders.append(slider)
        self.schedule_render()

    def _on_direction_moved(self, value: int, label: QLabel) -> None:
        label.setText(f"{value / _SIGMA_STEPS:+.1f}σ")
        self.schedule_render()

    def _on_sigma_range(self, k: int) -> None:
        for slider in self.direction_sliders:
            slider.setRange(-k * _SIGMA_STEPS, k * _SIGMA_STEPS)

    def reset_directions(self) -> None:
        for slider in self.direction_sliders:
            slider.setValue(0)

    def clear_directions(self) -> None:
        self.directions = []
        self._rebuild_direction_sliders()

    # ------------------------------------------------------------ brushes

    def _levels(self) -> dict:
        return self.stats.levels() if self.stats is not None else {}

    def _on_brush_toggled(self, on: bool) -> None:
        self.edit_view.paint_enabled = on
        self.edit_view.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self._update_overlay()

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.tabText(index) == "Brush" and self.model is not None:
            self.brush_check.setChecked(True)
        self._update_overlay()

    def _on_concept_changed(self, _index: int) -> None:
        self.units_edit.setEnabled(self.concept_combo.currentData() is None)

    def brush_units(self) -> tuple[int, ...]:
        """The units the next stroke edits: the concept's top units, or those typed by hand."""
        from backends.latent.strokes import BrushError

        layer = self.brush_layer.currentData()
        concept = self.concept_combo.currentData()
        if concept is not None and self.stats is not None:
            return self.stats.units(layer, concept, self.intensity_combo.currentData())
        text = self.units_edit.text().replace(",", " ").split()
        try:
            units = tuple(int(t) for t in text)
        except ValueError as exc:
            raise BrushError(f"units must be whole numbers separated by commas, got {self.units_edit.text()!r}") from exc
        if not units:
            raise BrushError("type the unit numbers to paint with, or pick a concept")
        return units

    def _make_stroke(self, mask: np.ndarray):  # noqa: ANN202 - Stroke
        from backends.latent.brushes import Stroke

        layer = self.brush_layer.currentData()
        mode = "draw" if self.draw_radio.isChecked() else "remove"
        units = self.brush_units()
        concept = self.concept_combo.currentData() or f"units {', '.join(map(str, units[:4]))}" + (
            "…" if len(units) > 4 else "")
        label = f"{mode} {concept} ×{len(units)} @ {layer}"
        return Stroke(layer, units, mode, mask, label, self.pool_combo.currentData())

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
            stroke = self._make_stroke(np.asarray(mask, bool))
        except BrushError as exc:
            self.context.show_error(str(exc))
            self.schedule_render()
            return
        self.strokes.push(stroke)
        self._strokes_changed()

    def undo(self) -> None:
        if self.strokes.undo():
            self._strokes_changed()

    def redo(self) -> None:
        if self.strokes.redo():
            self._strokes_changed()

    def delete_stroke(self, index: int) -> None:
        if 0 <= index < len(self.strokes):
            self.strokes.delete(index)
            self._strokes_changed()

    def reset_strokes(self) -> None:
        self.strokes.reset()
        self._strokes_changed()

    def _strokes_changed(self) -> None:
        self._refresh_history()
        self.schedule_render()

    def _refresh_history(self) -> None:
        self.history.blockSignals(True)
        self.history.clear()
        for i, stroke in enumerate(self.strokes.strokes):
            item = QListWidgetItem(f"{i + 1}. {stroke.label}")
            mask = (np.asarray(stroke.mask, np.float32) * 255).astype(np.uint8)
            icon_image = qimage_from_array(mask[:, :, None])
            item.setIcon(QIcon(QPixmap.fromImage(icon_image).scaled(28, 28)))
            self.history.addItem(item)
        self.history.blockSignals(False)
        self.undo_button.setEnabled(self.strokes.can_undo())
        self.redo_button.setEnabled(self.strokes.can_redo())
        self.delete_button.setEnabled(len(self.strokes) > 0)
        self.reset_button.setEnabled(len(self.strokes) > 0)

    def pooled_overlay(self) -> np.ndarray | None:
        """The current brush layer's composite mask, as pooled to its grid, at image size."""
        import torch

        from backends.latent.brushes import upsample_grid

        if self.model is None or self.last_result is None:
            return None
        layer = self.brush_layer.currentData()
        grid = self.last_result.masks.get(layer)
        if grid is None:
            return None
        size = (self.model.image_size, self.model.image_size)
        return upsample_grid(torch.from_numpy(grid), size)

    def _update_overlay(self) -> None:
        import torch

        from backends.latent.brushes import pool_mask, upsample_grid

        overlays: list[tuple[np.ndarray, QColor]] = []
        show = self.overlay_check.isChecked() and (self.brush_check.isChecked() or len(self.strokes) > 0)
        if show and self.model is not None:
            pooled = self.pooled_overlay()
            if pooled is not None:
                overlays.append((pooled, _OVERLAY))
            row = self.history.currentRow()
            if 0 <= row < len(self.strokes):
                stroke = self.strokes.strokes[row]
                h, w = self.model.brush_layers[stroke.layer][1:]
                grid = pool_mask(stroke.mask, (h, w), stroke.pooling)
                size = (self.model.image_size, self.model.image_size)
                overlays.append((upsample_grid(torch.as_tensor(grid), size), _OVERLAY_SELECTED))
        self.edit_view.set_overlays(overlays)

    # ------------------------------------------------------------ VAE images

    def _ask_encode_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Encode an image", "", "Images (*.png *.jpg *.jpeg *.bmp)")
        if path:
            self.encode_image_file(path)

    def encode_image_file(self, path: str | Path) -> None:
        """Read an image file, encode it with the VAE, show original and reconstruction."""
        from backends.latent.export import ExportError, load_image
        from backends.latent.render import to_uint8

        if self.model is None or not self.model.can_encode:
            self.context.show_error("encoding needs a VAE: open a vae checkpoint first")
            return
        try:
            x = load_image(path, self.model.image_size, self.model.channels)
        except ExportError as exc:
            self.context.show_error(str(exc))
            return
        if self.invert_check.isChecked():
            x = 1.0 - x
        self._set_encoded(Path(path).name, x, to_uint8(x)[0])

    def encode_dataset_image(self, index: int) -> None:
        """Encode image ``index`` of the model's dataset (loaded on a worker the first time)."""
        from backends.latent import analysis

        if self.model is None or not self.model.can_encode:
            self.context.show_error("encoding needs a VAE: open a vae checkpoint first")
            return
        if self.dataset is not None:
            self._encode_from_dataset(index)
            return
        model = self.model
        self._analysis_runner.submit(lambda: analysis.dataset_for(model, limit=3000),
                                     on_done=lambda d: self._dataset_ready(d, index), on_error=self._on_error)

    def _dataset_ready(self, data, index: int) -> None:  # noqa: ANN001
        self.dataset = data
        self.dataset_spin.setMaximum(len(data.images) - 1)
        self._encode_from_dataset(index)

    def _encode_from_dataset(self, index: int) -> None:
        from backends.latent.render import to_uint8

        data = self.dataset
        index = min(max(0, index), len(data.images) - 1)
        x = data.images[index : index + 1]
        name = data.class_names[int(data.labels[index])] if data.class_names else ""
        self._set_encoded(f"{data.name} #{index} {name}".strip(), x, to_uint8(x)[0])

    def _set_encoded(self, label: str, x, original: np.ndarray) -> None:  # noqa: ANN001
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
            self.anchors.append(_Anchor(f"image {self.encoded[0]}", self.encoded[1].clone()))
            self._anchors_changed()

    def _update_views_visibility(self) -> None:
        self.original_view.setVisible(self.encoded is not None and self.source == "encoded")
        self.compare_view.setVisible(self.compare_model is not None)
        if self.source == "encoded":
            self.edit_view.caption = "Reconstruction" + (" (edited)" if self._edited() else "")
        elif self.model is not None:
            self.edit_view.caption = self.model.name

    def _edited(self) -> bool:
        return len(self.strokes) > 0 or any(s.value() for s in self.direction_sliders)

    # ------------------------------------------------------------ rendering

    def schedule_render(self) -> None:
        """Ask for the image to be redrawn; bursts within the debounce become one request."""
        if self.model is None:
            return
        self.render_stats["requested"] += 1
        if not self._debounce.isActive():
            self._debounce.start()

    def render_pending(self) -> bool:
        """Whether a render is waiting (debounced) or on its way to the screen."""
        return self._debounce.isActive() or self._shown_request < self._latest_request

    def render_now(self) -> None:
        """Submit the render immediately (tests and benchmarks)."""
        self._debounce.stop()
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
                strokes.append(self._make_stroke(self._live_mask))
            except ValueError:
                pass  # bad unit text: reported when the stroke is finished
        request_id = next(self._ids)
        self._latest_request = request_id
        self._request_time[request_id] = time.perf_counter()
        self.render_stats["submitted"] += 1
        model, other = self.model, self.compare_model
        if other is None:
            self._render_runner.submit(render, model, z, strokes, self._levels(), request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)
        else:
            self._render_runner.submit(render_compare, model, other, z, strokes, self._levels(),
                                       self.compare_levels, request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)

    def _on_rendered(self, result) -> None:  # noqa: ANN001
        self.render_stats["rendered"] += 1
        compare, skipped = None, []
        if isinstance(result, tuple):
            result, compare, skipped = result
        if result.request_id <= self._shown_request:
            self.render_stats["stale"] += 1  # an older answer than what is on screen
            return
        self._shown_request = result.request_id
        self.last_result, self.last_compare = result, compare
        self.shown_image = result.images[0]
        self.edit_view.set_image(self.shown_image)
        if compare is not None:
            self.compare_view.set_image(compare.images[0])
            self.compare_view.caption = self.compare_model.name + (
                f" ({len(skipped)} strokes not applicable)" if skipped else "")
        self._update_views_visibility()
        self._update_overlay()
        started = self._request_time.pop(result.request_id, None)
        for stale in [k for k in self._request_time if k < result.request_id]:
            del self._request_time[stale]
        if started is not None:
            self.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        self.render_stats["shown"] += 1
        self._describe_view()
        self.sig_image_shown.emit(result.request_id)

    def _describe_view(self) -> None:
        z = self.last_result.latents[0]
        where = {
            "cell": f"seed {self.grid_seeds[self.current_cell]}" if self.current_cell is not None and self.grid_seeds else "",
            "path": f"path t = {self.t_slider.value() / _T_STEPS:.3f} ({self.method_combo.currentText()})",
            "plane": f"plane u = {self.plane_pad.u:.2f}, v = {self.plane_pad.v:.2f}",
            "encoded": f"encoded {self.encoded[0]}" if self.encoded else "",
        }[self.source]
        edits = sum(1 for s in self.direction_sliders if s.value())
        self.view_info.setText(
            f"{where} · |z| = {float(z.norm()):.2f} (typical {math.sqrt(self.model.latent_dim):.2f}) · "
            f"{edits} direction(s), {len(self.strokes)} stroke(s) · {self.last_result.seconds * 1000:.1f} ms"
        )

    def _on_error(self, error: BaseException, _details: str) -> None:
        from workbench.tasks import error_message

        for button in (self.pca_button, self.class_button):
            button.setEnabled(True)
        self.context.show_error(error_message(error))

    def _on_render_error(self, error: BaseException, details: str) -> None:
        # The failed request will never be shown: stop waiting for it.
        self._shown_request = max(self._shown_request, self._latest_request)
        self._on_error(error, details)

    # ------------------------------------------------------------ export

    def _ask_path(self, title: str, pattern: str, action) -> None:  # noqa: ANN001
        path, _ = QFileDialog.getSaveFileName(self, title, "", pattern)
        if path:
            action(path)

    def _guard(self, action) -> bool:  # noqa: ANN001
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

    def _strip_frames(self) -> np.ndarray | None:
        if len(self.anchors) < 2:
            self.context.show_error("export needs two or more anchors: shift-click grid cells to add them")
            return None
        from backends.latent.render import render

        # Rendered here, not on a worker: an export is a deliberate, short action
        # and the file must match the strip the user set up.
        return render(self.model, self.path_latents(self.steps_spin.value()), self.strokes.strokes,
                      self._levels()).images

    def export_gif(self, path: str | Path) -> int:
        """Write the interpolation strip as a GIF; returns the frames written (0 on failure)."""
        from backends.latent import export

        frames = self._strip_frames()
        if frames is None:
            return 0
        written = 0

        def write() -> None:
            nonlocal written
            written = export.save_gif(path, list(frames), fps=self.gif_fps.value(), scale=4)

        if self._guard(write):
            self.context.show_status(f"Saved {path} ({written} frames)")
        return written

    def export_mp4(self, path: str | Path) -> int:
        from backends.latent import export

        frames = self._strip_frames()
        if frames is None:
            return 0
        written = 0

        def write() -> None:
            nonlocal written
            written = export.save_mp4(path, list(frames), fps=self.gif_fps.value())

        self._guard(write)
        return written

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

    def _ask_load_latents(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load latents", "", "Latents (*.npz)")
        if path:
            self.load_latents(path)

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
        for i, (row, seed) in enumerate(zip(z, seeds, strict=True)):
            label = f"{Path(path).name}[{i}]" + (f" seed {seed}" if seed is not None else "")
            self.anchors.append(_Anchor(label, row.clone(), seed))
        self._anchors_changed()
        return True

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        self._debounce.stop()
        for runner in (self._render_runner, self._grid_runner, self._analysis_runner):
            runner.shutdown()
