"""The bootstrap settings every evaluation uses: resamples, confidence, interval, seed, reference."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

_LARGEST = "largest group"


class BootstrapBox(QGroupBox):
    """The bootstrap's settings; the compare and threshold views read them too."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Bootstrap", parent)
        form = QFormLayout(self)
        self.resamples_spin = QSpinBox()
        self.resamples_spin.setRange(0, 100_000)
        self.resamples_spin.setSingleStep(1000)
        self.resamples_spin.setValue(2000)
        self.resamples_spin.setToolTip("0 turns intervals off")
        self.confidence_spin = QDoubleSpinBox()
        self.confidence_spin.setRange(0.5, 0.999)
        self.confidence_spin.setDecimals(3)
        self.confidence_spin.setSingleStep(0.01)
        self.confidence_spin.setValue(0.95)
        self.method_combo = QComboBox()
        self.method_combo.addItems(["bca", "percentile", "basic"])
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.reference_combo = QComboBox()
        self.reference_combo.addItem(_LARGEST)
        for text, widget in (
            ("Resamples", self.resamples_spin),
            ("Confidence", self.confidence_spin),
            ("Interval", self.method_combo),
            ("Seed", self.seed_spin),
            ("Reference", self.reference_combo),
        ):
            form.addRow(text, widget)

    def options(self) -> dict[str, Any]:
        """The keywords of :func:`backends.evaluate.analysis.analyse` these settings give."""
        reference = self.reference_combo.currentText()
        return {
            "resamples": self.resamples_spin.value(),
            "confidence": self.confidence_spin.value(),
            # Percentile intervals always come along: the threshold view draws them.
            "methods": tuple(dict.fromkeys([self.method_combo.currentText(), "percentile"])),
            "seed": self.seed_spin.value(),
            "reference": None if self.reference_combo.currentIndex() == 0 else reference,
        }

    def offer_groups(self, names: list[str]) -> None:
        """Offer the evaluated groups as the reference, keeping the chosen one if it is there."""
        current = self.reference_combo.currentText()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        self.reference_combo.addItem(_LARGEST)
        self.reference_combo.addItems(names)
        if current in names:
            self.reference_combo.setCurrentText(current)
        self.reference_combo.blockSignals(False)
