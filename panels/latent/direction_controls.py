"""The directions tab: principal and class directions found for a model, one slider each, in sigma."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.widgets.form import add_button, spin_box, value_combo

# Direction sliders move in steps of 0.1 sigma (as GANSpace).
SIGMA_STEPS = 10


class DirectionControls(QWidget):
    """Holds the directions (``backends.latent.directions.Direction``) and their sliders.

    Signals
    -------
    sig_pca_requested()     "Compute" was pressed: principal directions of :meth:`pca_choice`
    sig_class_requested()   "Add direction" was pressed: a direction for :meth:`class_choice`
    sig_folders_requested() "From two folders…" was pressed (mean difference of encoded images)
    sig_folder_pca_requested()  "PCA of a folder…" was pressed (principal axes of encodings)
    sig_changed()           a slider moved or the set of directions changed
    """

    sig_pca_requested = Signal()
    sig_class_requested = Signal()
    sig_folders_requested = Signal()
    sig_folder_pca_requested = Signal()
    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.directions: list = []
        self.sliders: list[QSlider] = []
        layout = QVBoxLayout(self)
        box = QGroupBox("Principal directions (PCA of an inner layer)")
        form = QFormLayout(box)
        self.pca_layer = QComboBox()
        form.addRow("Layer", self.pca_layer)
        self.pca_count = spin_box(1, 16, 6)
        form.addRow("Components", self.pca_count)
        self.pca_button = QPushButton("Compute")
        self.pca_button.clicked.connect(self.sig_pca_requested)
        form.addRow(self.pca_button)
        layout.addWidget(box)
        box = QGroupBox("Class direction")
        form = QFormLayout(box)
        self.class_source = QComboBox()
        self.class_target = QComboBox()
        form.addRow("From", self.class_source)
        form.addRow("To", self.class_target)
        self.class_method = value_combo((("difference of class means", "mean"),
                                         ("linear boundary normal", "boundary")))
        form.addRow("Method", self.class_method)
        self.class_button = QPushButton("Add direction")
        self.class_button.clicked.connect(self.sig_class_requested)
        form.addRow(self.class_button)
        layout.addWidget(box)
        box = QGroupBox("From encoded images (VAE)")
        row = QHBoxLayout(box)
        self.folders_button = QPushButton("From two folders…")
        self.folders_button.setToolTip(
            "a direction from the mean latent of one folder of images to that of another"
        )
        self.folders_button.clicked.connect(self.sig_folders_requested)
        self.folder_pca_button = QPushButton("PCA of a folder…")
        self.folder_pca_button.setToolTip("principal directions of a folder of encoded images")
        self.folder_pca_button.clicked.connect(self.sig_folder_pca_requested)
        row.addWidget(self.folders_button)
        row.addWidget(self.folder_pca_button)
        self.folder_box = box
        layout.addWidget(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Slider range ±"))
        self.sigma_range = spin_box(1, 20, 5, suffix=" σ")
        self.sigma_range.valueChanged.connect(self._on_sigma_range)
        row.addWidget(self.sigma_range)
        add_button(row, "Zero all", self.reset)
        add_button(row, "Remove all", self.clear)
        layout.addLayout(row)
        self.sliders_box = QWidget()
        self.sliders_layout = QGridLayout(self.sliders_box)
        self.sliders_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sliders_box)
        layout.addStretch(1)

    # ------------------------------------------------------------ a model's choices

    def set_model(self, layers: dict[str, tuple[int, int, int]], class_names: Iterable[str]) -> None:
        """A new model: no directions; its layers offered for PCA and its classes for class directions."""
        self.directions = []
        self.pca_layer.clear()
        for name, (c, h, w) in layers.items():
            self.pca_layer.addItem(f"{name} ({c}×{h}×{w})", name)
        self.class_source.clear()
        self.class_target.clear()
        names = list(class_names)
        for i, name in enumerate(names):
            self.class_source.addItem(name, i)
            self.class_target.addItem(name, i)
        if len(names) > 1:
            self.class_target.setCurrentIndex(1)
        self.class_button.setEnabled(bool(names))
        self.rebuild()

    def pca_choice(self) -> tuple[str, int] | None:
        """The layer and number of principal directions to compute; None before a model."""
        layer = self.pca_layer.currentData()
        return None if layer is None else (layer, self.pca_count.value())

    def class_choice(self) -> tuple[int, int, str] | None:
        """From-class, to-class and method of the class direction; None when there are no classes."""
        if self.class_source.count() == 0:
            return None
        return self.class_source.currentData(), self.class_target.currentData(), self.class_method.currentData()

    def enable_buttons(self) -> None:
        """Make the compute buttons usable again (after a result or an error)."""
        for button in (
            self.pca_button, self.class_button, self.folders_button, self.folder_pca_button
        ):
            button.setEnabled(True)

    # ------------------------------------------------------------ the directions

    def set_principal(self, found: Iterable[Any]) -> None:
        """Replace the principal directions with ``found``; class directions stay."""
        self.directions = [d for d in self.directions if "PC" not in d.name] + list(found)
        self.rebuild()

    def add(self, direction: Any) -> None:
        self.directions.append(direction)
        self.rebuild()

    def clear(self) -> None:
        self.directions = []
        self.rebuild()

    def reset(self) -> None:
        """Every slider back to zero."""
        for slider in self.sliders:
            slider.setValue(0)

    def values(self) -> list[float]:
        """The sliders' positions, in sigma."""
        return [s.value() / SIGMA_STEPS for s in self.sliders]

    def moved(self) -> int:
        """How many sliders are off zero."""
        return sum(1 for s in self.sliders if s.value())

    def apply(self, z):
        """``z`` moved along every direction by its slider."""
        from backends.latent.directions import apply_directions

        if not self.directions:
            return z
        return apply_directions(z, self.directions, self.values())

    def rebuild(self) -> None:
        """One labelled slider per direction, all at zero."""
        while self.sliders_layout.count():
            item = self.sliders_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.sliders = []
        k = self.sigma_range.value()
        for row, direction in enumerate(self.directions):
            label = QLabel(direction.name)
            label.setToolTip(f"σ = {direction.sigma:.3g}; score {direction.score:.3g}")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(-k * SIGMA_STEPS, k * SIGMA_STEPS)
            value = QLabel("0.0σ")
            value.setMinimumWidth(44)
            slider.valueChanged.connect(lambda v, lab=value: self._on_moved(v, lab))
            self.sliders_layout.addWidget(label, row, 0)
            self.sliders_layout.addWidget(slider, row, 1)
            self.sliders_layout.addWidget(value, row, 2)
            self.sliders.append(slider)
        self.sig_changed.emit()

    def _on_moved(self, value: int, label: QLabel) -> None:
        label.setText(f"{value / SIGMA_STEPS:+.1f}σ")
        self.sig_changed.emit()

    def _on_sigma_range(self, k: int) -> None:
        for slider in self.sliders:
            slider.setRange(-k * SIGMA_STEPS, k * SIGMA_STEPS)
