"""The Monitor follows a TensorBoard log that grows while the panel is open."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from torch.utils.tensorboard import SummaryWriter


@pytest.fixture
def panel(make_monitor, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return make_monitor()


def _curve(panel, key):
    plot = panel.plots["loss"]
    return plot.curve_data(key) if key in plot.curve_keys() else (np.array([]), np.array([]))


def test_a_growing_tensorboard_log_is_listed_and_its_curve_follows(qtbot, panel):
    folder = panel.context.runs_dir / "sine"
    writer = SummaryWriter(log_dir=str(folder))
    try:
        losses = [1.0 / (1 + step) for step in range(60)]
        for step in range(20):
            writer.add_scalar("train/loss", losses[step], step)
        panel.refresh_runs()
        qtbot.waitUntil(lambda: panel.runs_model.find(folder) is not None, timeout=5000)
        assert panel.runs_model.find(folder).source == "tensorboard"
        panel.select_runs([folder])
        key = "sine|train|loss|0"
        qtbot.waitUntil(lambda: len(_curve(panel, key)[0]) == 20, timeout=5000)

        # The file grows while the panel is open: only the new records are read and drawn.
        for step in range(20, 60):
            writer.add_scalar("train/loss", losses[step], step)
            if step == 40:
                writer.add_image("samples", np.full((3, 8, 8), 0.5), step)
        qtbot.waitUntil(lambda: len(_curve(panel, key)[0]) == 60, timeout=5000)
    finally:
        writer.close()
    x, y = _curve(panel, key)
    assert x.tolist() == list(range(60))
    assert np.allclose(y, losses)  # float32 in the file
    qtbot.waitUntil(lambda: panel.sample_preview.is_image(), timeout=3000)
