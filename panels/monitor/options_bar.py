"""The Monitor's options bar: smoothing, log y, the x axis, and the Export menu.

:class:`OptionsBar` turns its controls into one
:class:`~panels.monitor.plot_curve.DisplayOptions` (``sig_changed``) and the
Export menu's choices into ``sig_export`` (``png``, ``svg`` or ``csv``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QWidget,
)

from panels.monitor.plot_curve import DisplayOptions

X_AXES = ("Step", "Wall time")


class OptionsBar(QWidget):
    """The display options of every plot; see the module docstring.

    Signals
    -------
    sig_changed(object)   the new DisplayOptions
    sig_export(str)       the Export menu's choice: "png", "svg" or "csv"
    """

    sig_changed = Signal(object)
    sig_export = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setObjectName("smoothing_slider")
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(0)
        self.smoothing_slider.setMaximumWidth(160)
        self.smoothing_label = QLabel("off")
        self.smoothing_slider.valueChanged.connect(self._on_changed)
        self.log_y_box = QCheckBox("Log y")
        self.log_y_box.setObjectName("log_y_box")
        self.log_y_box.toggled.connect(self._on_changed)
        self.x_axis_box = QComboBox()
        self.x_axis_box.setObjectName("x_axis_box")
        self.x_axis_box.addItems(list(X_AXES))
        self.x_axis_box.currentIndexChanged.connect(self._on_changed)
        self.export_button = self._export_button()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Smoothing"))
        layout.addWidget(self.smoothing_slider)
        layout.addWidget(self.smoothing_label)
        layout.addSpacing(12)
        layout.addWidget(self.log_y_box)
        layout.addSpacing(12)
        layout.addWidget(QLabel("X axis"))
        layout.addWidget(self.x_axis_box)
        layout.addStretch(1)
        layout.addWidget(self.export_button)

    def _export_button(self) -> QToolButton:
        button = QToolButton()
        button.setText("Export")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.addAction("Plots as PNG…", lambda: self.sig_export.emit("png"))
        menu.addAction("Plots as SVG…", lambda: self.sig_export.emit("svg"))
        menu.addAction("Metrics as CSV…", lambda: self.sig_export.emit("csv"))
        button.setMenu(menu)
        return button

    def options(self) -> DisplayOptions:
        """The options the controls show now."""
        return DisplayOptions(
            smoothing=self.smoothing_slider.value() / 100.0,
            log_y=self.log_y_box.isChecked(),
            x_time=self.x_axis_box.currentText() == "Wall time",
        )

    def _on_changed(self, *_args: Any) -> None:
        options = self.options()
        self.smoothing_label.setText("off" if options.smoothing == 0 else f"{options.smoothing:.2f}")
        self.sig_changed.emit(options)
