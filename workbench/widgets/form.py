"""Small builders the studio's controls share: spin boxes, combo boxes of labelled values, buttons."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtWidgets import QBoxLayout, QComboBox, QDoubleSpinBox, QPushButton, QSpinBox


def spin_box(low: int, high: int, value: int | None = None, suffix: str = "") -> QSpinBox:
    """A whole-number spin box from ``low`` to ``high`` (at ``value`` when given)."""
    spin = QSpinBox()
    spin.setRange(low, high)
    if value is not None:
        spin.setValue(value)
    if suffix:
        spin.setSuffix(suffix)
    return spin


def float_spin_box(low: float, high: float, value: float, step: float | None = None,
                   suffix: str = "") -> QDoubleSpinBox:
    """A decimal spin box from ``low`` to ``high`` at ``value``, moving by ``step`` when given."""
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    if step is not None:
        spin.setSingleStep(step)
    spin.setValue(value)
    if suffix:
        spin.setSuffix(suffix)
    return spin


def value_combo(items: Iterable[tuple[str, Any]]) -> QComboBox:
    """A combo box of (shown text, value) items; read the choice with ``currentData()``."""
    combo = QComboBox()
    for text, value in items:
        combo.addItem(text, value)
    return combo


def add_button(layout: QBoxLayout, text: str, slot: Callable[..., Any]) -> QPushButton:
    """A push button that calls ``slot`` when clicked, added to ``layout``."""
    button = QPushButton(text)
    button.clicked.connect(slot)
    layout.addWidget(button)
    return button
