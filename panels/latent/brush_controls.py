"""The brush tab: what a painted stroke edits (layer, concept or units, mode, intensity) and its history.

The controls drive the image view they are given: painting on or off, the
brush radius, and the overlays (the composite mask pooled to the layer's
grid, and the stroke selected in the history).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from backends.latent.strokes import BrushError, Stroke, StrokeStack
from panels.latent.canvas import ImageCanvas
from panels.latent.images import mask_icon
from workbench.widgets.form import add_button, float_spin_box, value_combo

if TYPE_CHECKING:
    from backends.latent.concepts import UnitStatistics
    from backends.latent.model import LatentModel

# Overlays tint lightly and outline strongly, so the edit under them stays visible.
_OVERLAY = QColor(255, 120, 0, 60)
_OVERLAY_SELECTED = QColor(0, 170, 255, 60)


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """The border of a mask (H, W): its pixels with a 4-neighbour outside it (or at the edge)."""
    inside = np.asarray(mask) > 0
    padded = np.pad(inside, 1, constant_values=False)
    interior = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & inside
    )
    return (inside & ~interior).astype(np.float32)


class BrushControls(QWidget):
    """Brush settings and the stroke history (:attr:`strokes`, with undo and redo).

    Signals
    -------
    sig_strokes_changed()   a stroke was added, undone, redone, deleted or all were reset
    """

    sig_strokes_changed = Signal()

    def __init__(self, canvas: ImageCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.model: LatentModel | None = None
        self.stats: UnitStatistics | None = None  # the concepts offered and their units
        self.masks: dict[str, np.ndarray] | None = None  # pooled masks of the image on screen
        self.strokes = StrokeStack()
        layout = QVBoxLayout(self)
        self.brush_check = QCheckBox("Paint on the image")
        self.brush_check.toggled.connect(self._on_brush_toggled)
        layout.addWidget(self.brush_check)
        form = QFormLayout()
        self.brush_layer = QComboBox()
        self.brush_layer.currentIndexChanged.connect(self._on_layer_changed)
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
        group = QButtonGroup(self)
        group.addButton(self.draw_radio)
        group.addButton(self.remove_radio)
        mode_row.addWidget(self.draw_radio)
        mode_row.addWidget(self.remove_radio)
        form.addRow("Mode", mode_row)
        self.intensity_combo = value_combo((f"{name} ({count} units)", count)
                                           for name, count in (("low", 4), ("medium", 10), ("high", 15)))
        self.intensity_combo.setCurrentIndex(1)
        form.addRow("Intensity", self.intensity_combo)
        self.radius_spin = float_spin_box(0.5, 10.0, 2.0, suffix=" px")
        self.radius_spin.valueChanged.connect(lambda v: setattr(self.canvas, "brush_radius", v))
        form.addRow("Brush radius", self.radius_spin)
        self.pool_combo = value_combo((("max: a touched cell is fully on", "max"),
                                       ("mean: partial cells, softer", "mean")))
        form.addRow("Mask pooling", self.pool_combo)
        self.overlay_check = QCheckBox("Outline the mask pooled to the layer grid")
        self.overlay_check.setChecked(True)
        self.overlay_check.toggled.connect(lambda _v: self.update_overlay())
        form.addRow(self.overlay_check)
        layout.addLayout(form)
        layout.addWidget(QLabel("Strokes (oldest first)"))
        self.history = QListWidget()
        self.history.setIconSize(QSize(28, 28))
        self.history.currentRowChanged.connect(lambda _r: self.update_overlay())
        layout.addWidget(self.history)
        row = QHBoxLayout()
        self.undo_button = add_button(row, "Undo", self.undo)
        self.redo_button = add_button(row, "Redo", self.redo)
        self.delete_button = add_button(row, "Delete", lambda: self.delete(self.history.currentRow()))
        self.reset_button = add_button(row, "Reset", self.reset)
        layout.addLayout(row)

    def set_model(self, model: LatentModel, stats: UnitStatistics | None) -> None:
        """A new model: an empty history, its layers (the finest, last, selected) and its concepts."""
        self.model, self.stats = model, stats
        self.strokes = StrokeStack()
        self.brush_layer.clear()
        for name, (c, h, w) in model.brush_layers.items():
            self.brush_layer.addItem(f"{name} ({c} units, {h}×{w})", name)
        self.brush_layer.setCurrentIndex(max(0, self.brush_layer.count() - 1))
        self.show_concepts()
        self.show_history()

    def show_concepts(self) -> None:
        """Offer the concepts checked to draw and remove on the current layer; say why others are not."""
        layer = self.brush_layer.currentData()
        previous = self.concept_combo.currentData()
        self.concept_combo.blockSignals(True)
        self.concept_combo.clear()
        offered = self.stats.offered(layer) if self.stats is not None and layer else []
        for name in offered:
            self.concept_combo.addItem(name, name)
        self.concept_combo.addItem("units by hand", None)
        left_out = [
            f"{name}: {self.stats.why_unusable(layer, name)}"
            for name in (self.stats.class_names if self.stats is not None else [])
            if name not in offered
        ]
        self.concept_combo.setToolTip(
            "Concepts whose units were checked to raise the class's score where you paint "
            "(draw) and lower it (remove)."
            + ("\nNot offered on this layer:\n" + "\n".join(left_out) if left_out else "")
        )
        index = self.concept_combo.findData(previous) if previous is not None else -1
        self.concept_combo.setCurrentIndex(max(index, 0))
        self.concept_combo.blockSignals(False)
        self._on_concept_changed(self.concept_combo.currentIndex())

    def _on_layer_changed(self, _index: int) -> None:
        self.show_concepts()
        self.update_overlay()

    # ------------------------------------------------------------ strokes

    def brush_units(self) -> tuple[int, ...]:
        """The units the next stroke edits: the concept's top units, or those typed by hand."""
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

    def make_stroke(self, mask: np.ndarray) -> Stroke:
        """A stroke over ``mask`` (H, W) with the current settings; BrushError when the units are bad."""
        layer = self.brush_layer.currentData()
        mode = "draw" if self.draw_radio.isChecked() else "remove"
        units = self.brush_units()
        concept = self.concept_combo.currentData() or f"units {', '.join(map(str, units[:4]))}" + (
            "…" if len(units) > 4 else "")
        label = f"{mode} {concept} ×{len(units)} @ {layer}"
        return Stroke(layer, units, mode, mask, label, self.pool_combo.currentData())

    def push(self, stroke: Stroke) -> None:
        self.strokes.push(stroke)
        self._strokes_changed()

    def undo(self) -> None:
        if self.strokes.undo():
            self._strokes_changed()

    def redo(self) -> None:
        if self.strokes.redo():
            self._strokes_changed()

    def delete(self, index: int) -> None:
        if 0 <= index < len(self.strokes):
            self.strokes.delete(index)
            self._strokes_changed()

    def reset(self) -> None:
        self.strokes.reset()
        self._strokes_changed()

    def _strokes_changed(self) -> None:
        self.show_history()
        self.sig_strokes_changed.emit()

    def show_history(self) -> None:
        """List the strokes with mask icons; enable undo, redo, delete and reset as they apply."""
        self.history.blockSignals(True)
        self.history.clear()
        for i, stroke in enumerate(self.strokes.strokes):
            item = QListWidgetItem(f"{i + 1}. {stroke.label}")
            item.setIcon(mask_icon(stroke.mask, 28))
            self.history.addItem(item)
        self.history.blockSignals(False)
        self.undo_button.setEnabled(self.strokes.can_undo())
        self.redo_button.setEnabled(self.strokes.can_redo())
        self.delete_button.setEnabled(len(self.strokes) > 0)
        self.reset_button.setEnabled(len(self.strokes) > 0)

    # ------------------------------------------------------------ overlays

    def _on_brush_toggled(self, on: bool) -> None:
        self.canvas.paint_enabled = on
        self.canvas.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.update_overlay()

    def _on_concept_changed(self, _index: int) -> None:
        self.units_edit.setEnabled(self.concept_combo.currentData() is None)

    def show_masks(self, masks: dict[str, np.ndarray]) -> None:
        """The pooled masks (layer → grid) the image on screen was rendered with."""
        self.masks = masks
        self.update_overlay()

    def _image_size(self) -> tuple[int, int]:
        return (self.model.image_size, self.model.image_size)

    def pooled_overlay(self) -> np.ndarray | None:
        """The current brush layer's composite mask, as pooled to its grid, at image size."""
        if self.model is None or self.masks is None:
            return None
        grid = self.masks.get(self.brush_layer.currentData())
        if grid is None:
            return None
        # Imported only now: with a model open, the workers have imported torch already.
        import torch

        from backends.latent.brushes import upsample_grid

        return upsample_grid(torch.from_numpy(grid), self._image_size())

    def update_overlay(self) -> None:
        """Tint the pooled mask and the stroke selected in the history on the image view."""
        overlays: list[tuple[np.ndarray, QColor]] = []
        show = self.overlay_check.isChecked() and (self.brush_check.isChecked() or len(self.strokes) > 0)
        if show and self.model is not None:
            pooled = self.pooled_overlay()
            if pooled is not None:
                # An outline, not a fill: the pixels just edited stay visible.
                overlays.append((mask_outline(pooled), _OVERLAY))
            row = self.history.currentRow()
            if 0 <= row < len(self.strokes):
                import torch

                from backends.latent.brushes import pool_mask, upsample_grid

                stroke = self.strokes.strokes[row]
                h, w = self.model.brush_layers[stroke.layer][1:]
                grid = pool_mask(stroke.mask, (h, w), stroke.pooling)
                selected = upsample_grid(torch.as_tensor(grid), self._image_size())
                overlays.append((mask_outline(selected), _OVERLAY_SELECTED))
        self.canvas.set_overlays(overlays)
