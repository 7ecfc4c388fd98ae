"""The latent studio with a tiny random diffusers AutoencoderKL: encode, interpolate, brush."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from tests.backends.sd_folders import make_vae_folder, write_photos


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory):
    return make_vae_folder(tmp_path_factory.mktemp("sd") / "tiny-vae")


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"))



def _wait_image(qtbot, panel, action):
    with qtbot.waitSignal(panel.sig_image_shown, timeout=30000):
        action()
    qtbot.waitUntil(lambda: not panel.render_pending(), timeout=30000)
    return panel.shown_image.copy()


def test_autoencoder_kl_opens_encodes_interpolates_and_brushes(qtbot, latent_panel, vae_folder, photo_files):
    with qtbot.waitSignal(latent_panel.sig_grid_shown, timeout=120000):
        latent_panel.open_model(str(vae_folder))
    qtbot.waitUntil(lambda: latent_panel.shown_image is not None, timeout=30000)
    assert latent_panel.model.name.startswith("AutoencoderKL") and latent_panel.is_tab_enabled("Encode")
    assert latent_panel.grid.images.shape[1:] == (64, 64, 3)

    # Two photos encoded, each shown beside its reconstruction, then made anchors.
    for photo in photo_files[:2]:
        _wait_image(qtbot, latent_panel, lambda p=photo: latent_panel.encode_image_file(p))
        assert latent_panel.source == "encoded" and latent_panel.original_view.isVisible()
        assert latent_panel.original_view.image.shape == (64, 64, 3)
        assert latent_panel.edit_view.caption.startswith("Reconstruction")
        latent_panel._anchor_encoded()
    assert len(latent_panel.anchors) == 2
    latent_panel.steps_spin.setValue(5)
    with qtbot.waitSignal(latent_panel.sig_strip_shown, timeout=30000):
        latent_panel.render_strip()
    strip = latent_panel.strip_images
    assert strip.shape == (5, 64, 64, 3)
    assert not np.array_equal(strip[0], strip[-1])

    # A brush stroke on a decoder block changes the image mostly near the stroke.
    before = latent_panel.shown_image.astype(int)
    latent_panel.show_tab("Brush")
    layer = "vae.decoder.up_blocks.1.resnets.0"
    latent_panel.brush_layer.setCurrentIndex(latent_panel.brush_layer.findData(layer))
    latent_panel.concept_combo.setCurrentIndex(latent_panel.concept_combo.findData(None))
    latent_panel.units_edit.setText("0, 1, 2, 3, 4, 5, 6, 7")
    mask = np.zeros((64, 64), bool)
    mask[8:24, 8:24] = True
    after = _wait_image(qtbot, latent_panel, lambda: latent_panel.add_stroke(mask)).astype(int)
    change = np.abs(after - before).sum(-1)
    near = np.zeros_like(mask)
    near[0:32, 0:32] = True
    assert change.sum() > 0 and change[near].sum() / change.sum() > 0.9


def test_directions_from_folders_and_bad_images(qtbot, latent_panel, vae_folder, photo_files, tmp_path):
    from PIL import Image

    with qtbot.waitSignal(latent_panel.sig_grid_shown, timeout=120000):
        latent_panel.open_model(str(vae_folder))
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for n, photo in enumerate(photo_files):
        ((first if n < 2 else second) / photo.name).write_bytes(photo.read_bytes())
    with qtbot.waitSignal(latent_panel.sig_analysis_done, timeout=30000):
        latent_panel.add_folder_direction(first, second)
    assert latent_panel.direction_controls.directions[-1].name == "a → b"
    with qtbot.waitSignal(latent_panel.sig_analysis_done, timeout=30000):
        latent_panel.add_folder_principal_directions(first)
    assert [d.name for d in latent_panel.direction_controls.directions][-1] == "PC1"

    Image.new("CMYK", (64, 64)).save(tmp_path / "print.jpg")
    latent_panel.encode_image_file(tmp_path / "print.jpg")
    assert "CMYK" in latent_panel.context.errors[-1] and "8-bit RGB" in latent_panel.context.errors[-1]
    (tmp_path / "notes.png").write_text("not a picture")
    latent_panel.encode_image_file(tmp_path / "notes.png")
    assert "not a readable image" in latent_panel.context.errors[-1]
    assert latent_panel.source != "encoded"
