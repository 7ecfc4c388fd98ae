"""The encode tab: real images (a file or a dataset image) for a VAE to encode and edit."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.widgets.form import add_button, spin_box


class EncodeControls(QWidget):
    """Pick an image to encode; whether to invert it; make the encoding an anchor.

    Signals
    -------
    sig_encode_file(str)      encode this image file
    sig_encode_dataset(int)   encode this image of the model's dataset
    sig_anchor()              add the encoded image as an interpolation anchor
    """

    sig_encode_file = Signal(str)
    sig_encode_dataset = Signal(int)
    sig_anchor = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        info = QLabel("Encode a real image with the VAE's encoder, then edit it with the sliders "
                      "and brushes. The original is shown next to the reconstruction.")
        info.setWordWrap(True)
        layout.addWidget(info)
        self.encode_file_button = add_button(layout, "Encode an image file (PNG, JPG)…", self._ask_file)
        self.invert_check = QCheckBox("Invert (dark object on light ground)")
        layout.addWidget(self.invert_check)
        row = QHBoxLayout()
        row.addWidget(QLabel("Dataset image #"))
        self.dataset_spin = spin_box(0, 2999)
        row.addWidget(self.dataset_spin)
        self.encode_dataset_button = add_button(
            row, "Encode", lambda: self.sig_encode_dataset.emit(self.dataset_spin.value()))
        layout.addLayout(row)
        self.anchor_encoded_button = add_button(layout, "Add encoded image as an anchor", self.sig_anchor)
        layout.addStretch(1)

    def set_dataset_size(self, count: int) -> None:
        """The dataset is loaded: its images are numbered 0 .. count - 1."""
        self.dataset_spin.setMaximum(count - 1)

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Encode an image", "", "Images (*.png *.jpg *.jpeg *.bmp)")
        if path:
            self.sig_encode_file.emit(path)
