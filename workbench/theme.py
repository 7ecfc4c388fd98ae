"""Light and dark themes: a Fusion palette for widgets and matching plot colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_DARK = {
    QPalette.ColorRole.Window: "#2b2d30",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1f22",
    QPalette.ColorRole.AlternateBase: "#2b2d30",
    QPalette.ColorRole.ToolTipBase: "#3c3f41",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#3c3f41",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b68",
    QPalette.ColorRole.Link: "#589df6",
    QPalette.ColorRole.Highlight: "#2f65ca",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#8c8c8c",
}

# Colours for series (runs, ranks, groups), one hue each, readable on light and
# dark backgrounds: the Tableau 10 hues, in their usual order.
SERIES_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


def series_color(index: int) -> str:
    """The colour of the ``index``-th series (the colours repeat past the tenth)."""
    return SERIES_COLORS[index % len(SERIES_COLORS)]


# Plot background and foreground per theme, for pyqtgraph.
PLOT_COLORS = {"light": ("w", "k"), "dark": ("#1e1f22", "#d0d0d0")}


def apply_theme(app: QApplication, name: str) -> None:
    """Switch every widget (and plots made from now on) to the ``light`` or ``dark`` theme."""
    app.setStyle("Fusion")
    palette = app.style().standardPalette()
    if name == "dark":
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        disabled = QColor("#7a7a7a")
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                     QPalette.ColorRole.WindowText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setProperty("workbench_theme", name)
    import pyqtgraph as pg  # here, not at module top: only needed once a window exists

    background, foreground = PLOT_COLORS.get(name, PLOT_COLORS["light"])
    pg.setConfigOptions(background=background, foreground=foreground, antialias=False)
