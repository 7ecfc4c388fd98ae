"""The latent studio with a tiny random diffusers AutoencoderKL: encode, interpolate, brush."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from panels.latent.panel import LatentPanel
from tests.backends.sd_folders import make_vae_folder, write_photos
from workbench.context import AppContext
from workbench.settings import AppSettings


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory):
    return make_vae_folder(tmp_path_factory.mktemp("sd") / "tiny-vae")


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(LatentPanel, "autoload_demo", False)
    context = AppContext(tmp_path / "runs", AppSettings())
    widget = LatentPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    widget.shutdown()


def _wait_image(qtbot, panel, action):
    with qtbot.waitSignal(panel.sig_image_shown, timeout=30000):
        action()
    qtbot.waitUntil(lambda: not panel.render_pending(), timeout=30000)
    return panel.shown_image.copy()


def test_autoencoder_kl_opens_encodes_interpolates_and_brushes(qtbot, panel, vae_folder, photo_files):
    with qtbot.waitSignal(panel.sig_grid_shown, timeout=120000):
        panel.open_model(str(vae_folder))
    qtbot.waitUntil(lambda: panel.shown_image is not None, timeout=30000)
    assert panel.model.name.startswith("AutoencoderKL") and panel.tabs.isTabEnabled(3)
    assert panel.grid.images.shape[1:] == (64, 64, 3)

    # Two photos encoded, each shown beside its reconstruction, then made anchors.
    for photo in photo_files[:2]:
        _wait_image(qtbot, panel, lambda p=photo: panel.encode_image_file(p))
        assert panel.source == "encoded" and panel.original_view.isVisible()
        assert panel.original_view.image.shape == (64, 64, 3)
        assert panel.edit_view.caption.startswith("Reconstruction")
        panel._anchor_encoded()
    assert len(panel.anchors) == 2
    panel.steps_spin.setValue(5)
    with qtbot.waitSignal(panel.sig_strip_shown, timeout=30000):
        panel.render_strip()
    strip = panel.strip_images
    assert strip.shape == (5, 64, 64, 3)
    assert not np.array_equal(strip[0], strip[-1])

    # A brush stroke on a decoder block changes the image mostly near the stroke.
    before = panel.shown_image.astype(int)
    panel.tabs.setCurrentIndex(2)
    layer = "vae.decoder.up_blocks.1.resnets.0"
    panel.brush_layer.setCurrentIndex(panel.brush_layer.findData(layer))
    panel.concept_combo.setCurrentIndex(panel.concept_combo.findData(None))
    panel.units_edit.setText("0, 1, 2, 3, 4, 5, 6, 7")
    mask = np.zeros((64, 64), bool)
    mask[8:24, 8:24] = True
    after = _wait_image(qtbot, panel, lambda: panel.add_stroke(mask)).astype(int)
    change = np.abs(after - before).sum(-1)
    near = np.zeros_like(mask)
    near[0:32, 0:32] = True
    assert change.sum() > 0 and change[near].sum() / change.sum() > 0.9


def test_directions_from_folders_and_bad_images(qtbot, panel, vae_folder, photo_files, tmp_path):
    from PIL import Image

    with qtbot.waitSignal(panel.sig_grid_shown, timeout=120000):
        panel.open_model(str(vae_folder))
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for n, photo in enumerate(photo_files):
        ((first if n < 2 else second) / photo.name).write_bytes(photo.read_bytes())
    with qtbot.waitSignal(panel.sig_analysis_done, timeout=30000):
        panel.add_folder_direction(first, second)
    assert panel.direction_controls.directions[-1].name == "a → b"
    with qtbot.waitSignal(panel.sig_analysis_done, timeout=30000):
        panel.add_folder_principal_directions(first)
    assert [d.name for d in panel.direction_controls.directions][-1] == "PC1"

    Image.new("CMYK", (64, 64)).save(tmp_path / "print.jpg")
    panel.encode_image_file(tmp_path / "print.jpg")
    assert "CMYK" in panel.context.errors[-1] and "8-bit RGB" in panel.context.errors[-1]
    (tmp_path / "notes.png").write_text("not a picture")
    panel.encode_image_file(tmp_path / "notes.png")
    assert "not a readable image" in panel.context.errors[-1]
    assert panel.source != "encoded"
