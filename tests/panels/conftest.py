"""Fixtures shared by the panel tests."""

from __future__ import annotations

import pytest

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
