"""The interpolation tab: anchors in order, the path position, strip steps and the four-corner pad."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.widgets.form import add_button, spin_box

# The position slider runs 0..1000: t = value / 1000.
T_STEPS = 1000


@dataclass
class Anchor:
    """A latent the path passes through, with where it came from."""

    label: str
    z: Any  # torch.Tensor (d,)
    seed: int | None = None
    cell: int | None = None


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


class PathControls(QWidget):
    """The anchors (held here, in order) and where between them the shown latent lies.

    Signals
    -------
    sig_anchors_changed()    anchors were added, removed or cleared
    sig_add_shown()          "Add shown": the latent on screen should become an anchor
    sig_clear()              "Clear": every anchor should go
    sig_path_changed()       the interpolation method or the plane switch changed
    sig_t_changed()          the position slider moved
    sig_plane_moved()        the dot on the four-corner pad moved
    sig_strip_requested()    "Show strip" was pressed
    """

    sig_anchors_changed = Signal()
    sig_add_shown = Signal()
    sig_clear = Signal()
    sig_path_changed = Signal()
    sig_t_changed = Signal()
    sig_plane_moved = Signal()
    sig_strip_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.anchors: list[Anchor] = []
        layout = QVBoxLayout(self)
        self.anchor_list = QListWidget()
        self.anchor_list.setMaximumHeight(120)
        layout.addWidget(QLabel("Anchors (in order)"))
        layout.addWidget(self.anchor_list)
        row = QHBoxLayout()
        self.add_anchor_button = add_button(row, "Add shown", self.sig_add_shown)
        self.add_anchor_button.setToolTip("Add the latent on screen (with its direction edits) as an anchor")
        add_button(row, "Remove", self._remove_selected_anchor)
        add_button(row, "Clear", self.sig_clear)
        layout.addLayout(row)
        form = QFormLayout()
        self.method_combo = QComboBox()
        self.method_combo.addItems(["slerp", "lerp"])
        self.method_combo.setToolTip("slerp keeps Gaussian latents at a typical norm; lerp for encoder means")
        self.method_combo.currentTextChanged.connect(lambda _t: self.sig_path_changed.emit())
        form.addRow("Path", self.method_combo)
        self.t_slider = QSlider(Qt.Orientation.Horizontal)
        self.t_slider.setRange(0, T_STEPS)
        self.t_slider.valueChanged.connect(lambda _v: self.sig_t_changed.emit())
        form.addRow("Position", self.t_slider)
        self.steps_spin = spin_box(2, 64, 9)
        form.addRow("Strip steps", self.steps_spin)
        layout.addLayout(form)
        self.strip_button = add_button(layout, "Show strip", self.sig_strip_requested)
        plane_box = QGroupBox("Plane of four corners (anchors 1-4)")
        plane_layout = QHBoxLayout(plane_box)
        self.plane_check = QCheckBox("Use plane")
        self.plane_check.toggled.connect(lambda _v: self.sig_path_changed.emit())
        plane_layout.addWidget(self.plane_check)
        self.plane_pad = PlanePad()
        self.plane_pad.sig_moved.connect(lambda _u, _v: self.sig_plane_moved.emit())
        plane_layout.addWidget(self.plane_pad)
        layout.addWidget(plane_box)
        layout.addStretch(1)

    # ------------------------------------------------------------ anchors

    def add_anchors(self, anchors: Iterable[Anchor]) -> None:
        self.anchors.extend(anchors)
        self._anchors_changed()

    def clear_anchors(self) -> None:
        self.anchors.clear()
        self._anchors_changed()

    def _remove_selected_anchor(self) -> None:
        row = self.anchor_list.currentRow()
        if 0 <= row < len(self.anchors):
            del self.anchors[row]
            self._anchors_changed()

    def _anchors_changed(self) -> None:
        self.show_anchors()
        self.sig_anchors_changed.emit()

    def show_anchors(self) -> None:
        """List the anchors, numbered as the grid marks them."""
        self.anchor_list.clear()
        for i, anchor in enumerate(self.anchors):
            self.anchor_list.addItem(f"{i + 1}. {anchor.label}")

    # ------------------------------------------------------------ positions

    def uses_plane(self) -> bool:
        """Whether the plane switch is on and there are four corners for it."""
        return self.plane_check.isChecked() and len(self.anchors) >= 4

    def latent(self, source: str):
        """The point on the plane (source "plane") or the path (source "path"); None without anchors."""
        from backends.latent import interpolate

        method = self.method_combo.currentText()
        if source == "plane" and len(self.anchors) >= 4:
            corners = [a.z for a in self.anchors[:4]]
            return interpolate.plane_point(corners, self.plane_pad.u, self.plane_pad.v, method)
        if source == "path" and len(self.anchors) >= 2:
            return interpolate.path_point([a.z for a in self.anchors], self.t_slider.value() / T_STEPS, method)
        return None

    def strip_latents(self, steps: int):
        """``steps`` latents along the anchors, or along the plane's diagonal when it is on."""
        import torch

        from backends.latent import interpolate

        method = self.method_combo.currentText()
        if self.uses_plane():
            corners = [a.z for a in self.anchors[:4]]
            return torch.stack([interpolate.plane_point(corners, i / (steps - 1), i / (steps - 1), method)
                                for i in range(steps)])
        return interpolate.strip([a.z for a in self.anchors], steps, method)

    def go_to_frame(self, index: int, frames: int) -> None:
        """Move the path position to frame ``index`` of a ``frames``-frame strip (plane off)."""
        self.plane_check.setChecked(False)
        self.t_slider.setValue(round(index / (frames - 1) * T_STEPS))

    def describe(self, source: str) -> str:
        """Where on the path or plane the shown latent lies, for the line under the image."""
        if source == "plane":
            return f"plane u = {self.plane_pad.u:.2f}, v = {self.plane_pad.v:.2f}"
        return f"path t = {self.t_slider.value() / T_STEPS:.3f} ({self.method_combo.currentText()})"
