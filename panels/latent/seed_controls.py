"""The studio's left side: seed, cell count, truncation or temperature, and the grid they sample."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from panels.latent.seed_grid import SeedGrid
from workbench.widgets.form import add_button, float_spin_box, spin_box


class SeedControls(QWidget):
    """Which seeds the grid shows and how they are drawn; the grid itself is :attr:`grid`.

    Signals
    -------
    sig_changed()   the seeds or how they are drawn changed: the grid needs new latents
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        self.seed_spin = spin_box(0, 2**31 - 1)
        self.seed_spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
        row.addWidget(self.seed_spin)
        self.reroll_button = add_button(row, "Reroll", self.reroll)
        self.reroll_button.setToolTip("Jump to a fresh block of seeds")
        row.addWidget(QLabel("Cells"))
        self.cells_spin = spin_box(1, 64, 16)
        self.cells_spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
        row.addWidget(self.cells_spin)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.trunc_check = QCheckBox("Truncation")
        self.trunc_check.setToolTip("GAN: redraw latent entries beyond this magnitude (fewer, more typical images)")
        self.trunc_check.toggled.connect(lambda _v: self.sig_changed.emit())
        row.addWidget(self.trunc_check)
        self.trunc_spin = float_spin_box(0.1, 4.0, 1.5, step=0.1)
        self.trunc_spin.valueChanged.connect(lambda _v: self.trunc_check.isChecked() and self.sig_changed.emit())
        row.addWidget(self.trunc_spin)
        self.temp_label = QLabel("Temperature")
        row.addWidget(self.temp_label)
        self.temp_spin = float_spin_box(0.05, 3.0, 1.0, step=0.1)
        self.temp_spin.setToolTip("VAE: scale of prior samples; below 1 gives more average images")
        self.temp_spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
        row.addWidget(self.temp_spin)
        layout.addLayout(row)
        self.grid = SeedGrid()
        layout.addWidget(self.grid, 1)
        hint = QLabel("Click: show a cell · Shift-click: add it as an anchor")
        hint.setWordWrap(True)
        layout.addWidget(hint)

    def seeds(self) -> list[int]:
        """The seeds of the grid's cells, in order."""
        first = self.seed_spin.value()
        return list(range(first, first + self.cells_spin.value()))

    def reroll(self) -> None:
        """Move on to the next block of seeds."""
        self.seed_spin.setValue(self.seed_spin.value() + self.cells_spin.value())

    def truncation(self, kind: str) -> float | None:
        """The truncation threshold when it is on and the model is a GAN, else None."""
        return self.trunc_spin.value() if self.trunc_check.isChecked() and kind == "dcgan" else None

    def temperature(self, kind: str) -> float:
        """The prior's scale for a VAE; GANs always sample at 1."""
        return self.temp_spin.value() if kind == "vae" else 1.0

    def show_kind(self, kind: str) -> None:
        """Show truncation for a GAN, temperature for a VAE."""
        is_gan = kind == "dcgan"
        for w in (self.trunc_check, self.trunc_spin):
            w.setVisible(is_gan)
        for w in (self.temp_label, self.temp_spin):
            w.setVisible(not is_gan)

    def set_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.seed_spin, self.reroll_button, self.cells_spin, self.trunc_check,
                       self.trunc_spin, self.temp_spin):
            widget.setEnabled(enabled)
