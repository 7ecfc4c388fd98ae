"""A column's sampler settings: greedy or sample, temperature, top-k, top-p, repetition penalty."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QWidget

from workbench.widgets.form import float_spin_box, spin_box


class SamplerControls(QWidget):
    """One captioned row of sampler settings that turns into a ``SamplingConfig``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        self.mode = QComboBox()
        self.mode.addItems(["sample", "greedy"])
        self.mode.setToolTip("greedy always takes the most likely token (temperature 0 does too)")
        self.temperature = _tipped(
            float_spin_box(0.0, 5.0, 1.0, 0.05), "logits / temperature; 0 = greedy"
        )
        self.top_k = spin_box(0, 100000)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("keep the k most likely tokens (and ties with the k-th); 0 = off")
        self.top_p = _tipped(
            float_spin_box(0.01, 1.0, 1.0, 0.05),
            "keep the smallest set with this much "
            "probability (the token crossing it included); 1 = off",
        )
        self.penalty = _tipped(
            float_spin_box(0.1, 5.0, 1.0, 0.05),
            "divide positive / multiply negative logits of tokens already present; 1 = off",
        )
        for col, (label, widget) in enumerate(
            [
                ("mode", self.mode),
                ("temp", self.temperature),
                ("top-k", self.top_k),
                ("top-p", self.top_p),
                ("rep. pen.", self.penalty),
            ]
        ):
            caption = QLabel(label)
            caption.setStyleSheet("color: palette(mid); font-size: 11px;")
            grid.addWidget(caption, 0, col)
            grid.addWidget(widget, 1, col)
        self.mode.currentTextChanged.connect(self._on_mode_changed)

    def sampling_config(self, *, max_new_tokens: int, seed: int, stop: tuple[str, ...]) -> Any:
        """These settings as a ``backends.text.sampling.SamplingConfig`` (not yet validated)."""
        from backends.text.sampling import SamplingConfig

        return SamplingConfig(
            greedy=self.mode.currentText() == "greedy",
            temperature=round(self.temperature.value(), 4),
            top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 4),
            repetition_penalty=round(self.penalty.value(), 4),
            max_new_tokens=max_new_tokens,
            seed=seed,
            stop=stop,
        )

    def set_sampling(
        self, *, greedy=False, temperature=1.0, top_k=0, top_p=1.0, penalty=1.0
    ) -> None:
        self.mode.setCurrentText("greedy" if greedy else "sample")
        self.temperature.setValue(temperature)
        self.top_k.setValue(top_k)
        self.top_p.setValue(top_p)
        self.penalty.setValue(penalty)

    def _on_mode_changed(self, mode: str) -> None:
        sampling = mode == "sample"
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(sampling)


def _tipped(box: QDoubleSpinBox, tip: str) -> QDoubleSpinBox:
    box.setToolTip(tip)
    return box
