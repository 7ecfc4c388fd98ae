"""Fixtures the panel tests share: the Monitor over a runs folder, the latent studio."""

from __future__ import annotations

import pytest

# ---------------------------------------------------------------- the Monitor over a runs folder


@pytest.fixture
def runs_context(tmp_path):
    """An app context over an empty runs folder, ``tmp_path / "runs"``."""
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    runs = tmp_path / "runs"
    runs.mkdir()
    return AppContext(runs, AppSettings())


@pytest.fixture
def make_monitor(qtbot, runs_context):
    """Opens Monitor panels over ``runs_context``, shown at 1300x800; all are shut down after."""
    from tests.panels.panel_support import open_monitor

    panels = []

    def make():
        panel = open_monitor(qtbot, runs_context)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


# ---------------------------------------------------------------- latent studio


@pytest.fixture
def latent_panel(qtbot, tmp_path, monkeypatch):
    """A shown latent studio over a temporary runs folder, with no demo opened on first show."""
    from panels.latent.panel import LatentPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    monkeypatch.setattr(LatentPanel, "autoload_demo", False)
    widget = LatentPanel(AppContext(tmp_path / "runs", AppSettings()))
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    widget.shutdown()
