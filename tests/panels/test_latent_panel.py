"""The latent studio panel: grid, slider drag, brush strokes with exact undo, compare, files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from backends.latent import concepts, export
from panels.latent.panel import LatentPanel
from workbench.context import AppContext
from workbench.settings import AppSettings

SIZE = 16


def _save(folder, kind, config, model):
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "meta.json").write_text(json.dumps({"model": kind, "model_config": config.to_dict(), "step": 3}))
    # A tiny concept classifier (two synthetic classes), so opening needs no dataset.
    g = torch.Generator().manual_seed(0)
    images = 0.2 * torch.rand(40, 1, SIZE, SIZE, generator=g)
    labels = np.arange(40) % 2
    images[labels == 0, :, : SIZE // 2] += 0.7
    images[labels == 1, :, SIZE // 2 :] += 0.7
    concepts.train_concept_classifier(images, labels, ["top", "bottom"]).save(folder / "concepts.npz")
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from backends.models.dcgan import DCGAN, DCGANConfig
    from backends.models.vae import VAE, VAEConfig

    root = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    gan_config = DCGANConfig(nz=8, ngf=8, ndf=4, nc=1, image_size=SIZE)
    vae_config = VAEConfig(latent_dim=6, nc=1, image_size=SIZE, hidden=4)
    def contrasty(model):
        # DCGAN's N(0, 0.02) init makes every image mid-grey; larger weights give
        # untrained images with visible structure to compare.
        with torch.no_grad():
            for p in model.generator.parameters():
                if p.dim() == 4:
                    p.mul_(25)
        return model

    gpt = root / "gpt"
    gpt.mkdir()
    (gpt / "meta.json").write_text(json.dumps({"model": "gpt", "model_config": {}}))
    return {
        "gan": _save(root / "gan", "dcgan", gan_config, contrasty(DCGAN(gan_config))),
        "gan2": _save(root / "gan2", "dcgan", gan_config, contrasty(DCGAN(gan_config))),
        "vae": _save(root / "vae", "vae", vae_config, VAE(vae_config)),
        "gpt": gpt,
    }



def _open(qtbot, panel, path):
    with qtbot.waitSignal(panel.sig_grid_shown, timeout=30000):
        panel.open_model(str(path))
    qtbot.waitUntil(lambda: panel.shown_image is not None, timeout=10000)


def _wait_image(qtbot, panel, action):
    with qtbot.waitSignal(panel.sig_image_shown, timeout=10000):
        action()
    qtbot.waitUntil(lambda: not panel.render_pending(), timeout=10000)
    return panel.shown_image.copy()


def test_grid_shows_seeds_and_reroll_moves_on(qtbot, latent_panel, checkpoints):
    _open(qtbot, latent_panel, checkpoints["gan"])
    assert latent_panel.grid.images.shape == (16, SIZE, SIZE, 1)
    assert latent_panel.grid.labels[:3] == ["0", "1", "2"]
    first = latent_panel.grid.images.copy()
    with qtbot.waitSignal(latent_panel.sig_grid_shown, timeout=10000):
        latent_panel.reroll()
    assert latent_panel.grid_seeds[0] == 16 and latent_panel.grid.labels[0] == "16"
    assert not np.array_equal(first, latent_panel.grid.images)
    # Clicking a cell shows that cell's image in the main view.
    with qtbot.waitSignal(latent_panel.sig_image_shown, timeout=10000):
        qtbot.mouseClick(latent_panel.grid, Qt.MouseButton.LeftButton, pos=latent_panel.grid.cell_rect(5).center().toPoint())
    qtbot.waitUntil(lambda: np.array_equal(latent_panel.shown_image, latent_panel.grid.images[5]), timeout=10000)


def test_dragging_the_interpolation_slider_changes_the_image(qtbot, latent_panel, checkpoints):
    _open(qtbot, latent_panel, checkpoints["gan"])
    for cell in (0, 7):
        qtbot.mouseClick(latent_panel.grid, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                         pos=latent_panel.grid.cell_rect(cell).center().toPoint())
    assert [a.seed for a in latent_panel.anchors] == [0, 7]
    assert latent_panel.grid.anchors == {0: 1, 7: 2}
    latent_panel.show_tab("Path")
    slider = latent_panel.t_slider
    qtbot.waitUntil(slider.isVisible)
    _wait_image(qtbot, latent_panel, lambda: slider.setValue(10))
    start = _wait_image(qtbot, latent_panel, lambda: slider.setValue(0))
    assert np.array_equal(start, latent_panel.grid.images[0])  # t = 0 is the first anchor exactly
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                           QStyle.SubControl.SC_SliderHandle, slider)
    y = handle.center().y()
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=handle.center())
    for x in range(handle.center().x(), slider.width() // 2, 3):
        qtbot.mouseMove(slider, QPoint(x, y))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() // 2, y))
    assert 300 < slider.value() < 700
    qtbot.waitUntil(lambda: not latent_panel.render_pending(), timeout=10000)
    assert latent_panel.source == "path"
    assert not np.array_equal(latent_panel.shown_image, start)
    stats = latent_panel.render_stats
    # Many move events, far fewer renders: nothing queues up behind a fast drag.
    assert stats["rendered"] <= stats["submitted"] <= stats["requested"]


def test_brush_stroke_changes_image_and_undo_restores_it_exactly(qtbot, latent_panel, checkpoints):
    _open(qtbot, latent_panel, checkpoints["gan"])
    before = latent_panel.shown_image.copy()
    latent_panel.show_tab("Brush")
    assert latent_panel.brush_check.isChecked() and latent_panel.edit_view.paint_enabled
    latent_panel.brush_layer.setCurrentIndex(latent_panel.brush_layer.findData("layer1"))
    latent_panel.concept_combo.setCurrentIndex(latent_panel.concept_combo.findData(None))  # units by hand
    latent_panel.units_edit.setText("0, 1, 2, 3, 4, 5, 6, 7, 8, 9")
    view = latent_panel.edit_view
    rect = view.image_rect()

    def drag():
        a = QPoint(int(rect.x() + rect.width() * 0.2), int(rect.y() + rect.height() * 0.2))
        qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=a)
        for step in range(1, 8):
            qtbot.mouseMove(view, QPoint(a.x() + step * int(rect.width() * 0.04), a.y()))
        qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(a.x() + 7 * int(rect.width() * 0.04), a.y()))

    painted = _wait_image(qtbot, latent_panel, drag)
    assert len(latent_panel.strokes) == 1 and latent_panel.history.count() == 1
    assert "units 0, 1, 2, 3" in latent_panel.history.item(0).text()
    assert not np.array_equal(painted, before)
    overlay = latent_panel.pooled_overlay()
    # The overlay is the mask pooled to layer1's 2x2-pixel... grid: whole blocks, inside the top rows.
    cell = SIZE // latent_panel.model.brush_layers["layer1"][1]
    assert overlay.any() and not overlay[SIZE // 2 :].any()
    blocks = overlay.reshape(SIZE // cell, cell, SIZE // cell, cell)
    assert np.all(blocks.min(axis=(1, 3)) == blocks.max(axis=(1, 3)))
    # A second stroke, then undo: back to exactly the one-stroke image.
    mask = np.zeros((SIZE, SIZE), bool)
    mask[10:, :] = True
    latent_panel.draw_radio.setChecked(False)
    latent_panel.remove_radio.setChecked(True)
    two = _wait_image(qtbot, latent_panel, lambda: latent_panel.add_stroke(mask))
    assert not np.array_equal(two, painted) and latent_panel.history.count() == 2
    assert np.array_equal(_wait_image(qtbot, latent_panel, latent_panel.undo), painted)
    assert np.array_equal(_wait_image(qtbot, latent_panel, latent_panel.redo), two)
    # Deleting the first stroke leaves only the second: the same as painting it alone.
    only_second = _wait_image(qtbot, latent_panel, lambda: latent_panel.delete_stroke(0))
    assert [s.mode for s in latent_panel.strokes.strokes] == ["remove"]
    assert not np.array_equal(only_second, two)
    assert np.array_equal(_wait_image(qtbot, latent_panel, latent_panel.reset_strokes), before)
    assert latent_panel.history.count() == 0


def test_concept_units_and_principal_direction_sliders(qtbot, latent_panel, checkpoints):
    _open(qtbot, latent_panel, checkpoints["gan"])
    latent_panel.brush_layer.setCurrentIndex(latent_panel.brush_layer.findData("layer2"))
    # Only concepts checked to draw and remove are offered; the others are named with the reason.
    offered = latent_panel.stats.offered("layer2")
    assert [latent_panel.concept_combo.itemText(i) for i in range(latent_panel.concept_combo.count())] == [
        *offered, "units by hand"]
    for name in {"top", "bottom"} - set(offered):
        assert f"{name}: " in latent_panel.concept_combo.toolTip()
    latent_panel.concept_combo.setCurrentIndex(latent_panel.concept_combo.count() - 1)
    latent_panel.units_edit.setText("0, 1, 2, 3")
    assert latent_panel.brush_units() == (0, 1, 2, 3)
    before = latent_panel.shown_image.copy()
    with qtbot.waitSignal(latent_panel.sig_analysis_done, timeout=20000):
        latent_panel.compute_principal_directions()
    assert len(latent_panel.direction_sliders) == latent_panel.pca_count.value()
    moved = _wait_image(qtbot, latent_panel, lambda: latent_panel.direction_sliders[0].setValue(30))
    assert not np.array_equal(moved, before)
    assert np.array_equal(_wait_image(qtbot, latent_panel, latent_panel.reset_directions), before)


def test_compare_renders_the_same_latent_through_a_second_checkpoint(qtbot, latent_panel, checkpoints):
    _open(qtbot, latent_panel, checkpoints["gan"])
    with qtbot.waitSignal(latent_panel.sig_analysis_done, timeout=20000):
        latent_panel.open_compare(str(checkpoints["gan2"]))
    qtbot.waitUntil(lambda: latent_panel.last_compare is not None, timeout=10000)
    assert latent_panel.compare_view.isVisible()
    assert torch.equal(latent_panel.last_compare.latents, latent_panel.last_result.latents)
    assert not np.array_equal(latent_panel.compare_view.image, latent_panel.edit_view.image)
    # A VAE with another latent size cannot be compared: a message, no crash.
    latent_panel.open_compare(str(checkpoints["vae"]))
    qtbot.waitUntil(lambda: any("cannot compare" in e for e in latent_panel.context.errors), timeout=20000)


def test_bad_inputs_give_messages_not_crashes(qtbot, latent_panel, checkpoints, tmp_path):
    latent_panel.open_model(str(checkpoints["gpt"]))
    qtbot.waitUntil(lambda: bool(latent_panel.context.errors), timeout=10000)
    assert "GPT" in latent_panel.context.errors[-1] and "DCGAN or VAE" in latent_panel.context.errors[-1]
    assert latent_panel.model is None
    _open(qtbot, latent_panel, checkpoints["vae"])
    wrong = export.save_latents(tmp_path / "z.npz", torch.zeros(2, 5), [1, 2])
    assert not latent_panel.load_latents(wrong)
    assert "size 5 but this model takes 6" in latent_panel.context.errors[-1]
    (tmp_path / "notes.png").write_text("not a picture")
    latent_panel.encode_image_file(tmp_path / "notes.png")
    assert "not a readable image" in latent_panel.context.errors[-1]
    from PIL import Image

    Image.new("L", (3, 3)).save(tmp_path / "tiny.png")
    latent_panel.encode_image_file(tmp_path / "tiny.png")
    assert "at least 8 px" in latent_panel.context.errors[-1]
    assert latent_panel.model is not None and latent_panel.source != "encoded"


def test_vae_encode_shows_original_and_reconstruction(qtbot, latent_panel, checkpoints, tmp_path):
    from PIL import Image

    _open(qtbot, latent_panel, checkpoints["vae"])
    assert latent_panel.is_tab_enabled("Encode")
    picture = np.zeros((40, 40), np.uint8)
    picture[8:32, 12:28] = 255
    Image.fromarray(picture).save(tmp_path / "shirt.png")
    _wait_image(qtbot, latent_panel, lambda: latent_panel.encode_image_file(tmp_path / "shirt.png"))
    assert latent_panel.source == "encoded" and latent_panel.original_view.isVisible()
    assert latent_panel.original_view.image.shape == (SIZE, SIZE, 1)
    assert latent_panel.edit_view.caption.startswith("Reconstruction")


def test_gif_export_and_latents_round_trip(qtbot, latent_panel, checkpoints, tmp_path):
    _open(qtbot, latent_panel, checkpoints["gan"])
    assert latent_panel.export_gif(tmp_path / "none.gif") == 0  # no anchors yet: a message instead
    assert "two or more anchors" in latent_panel.context.errors[-1]
    latent_panel.add_cell_as_anchor(1)
    latent_panel.add_cell_as_anchor(2)
    latent_panel.steps_spin.setValue(7)
    assert latent_panel.export_gif(tmp_path / "walk.gif") == 7
    assert export.gif_frame_count(tmp_path / "walk.gif") == 7
    with qtbot.waitSignal(latent_panel.sig_strip_shown, timeout=10000):
        latent_panel.render_strip()
    assert latent_panel.strip_images.shape[0] == 7
    assert latent_panel.save_latents(tmp_path / "z.npz")
    z, seeds = export.load_latents(tmp_path / "z.npz", 8)
    assert seeds[:2] == [1, 2] and torch.equal(z[0], latent_panel.grid_latents[1])
    assert latent_panel.export_image_png(tmp_path / "image.png") and (tmp_path / "image.png").is_file()


def test_first_show_opens_a_shipped_demo(qtbot, tmp_path):
    from backends.latent.model import demo_names

    if not demo_names():
        pytest.skip("no demo checkpoints shipped")
    widget = LatentPanel(AppContext(tmp_path / "runs", AppSettings()))
    qtbot.addWidget(widget)
    try:
        with qtbot.waitSignal(widget.sig_grid_shown, timeout=30000):
            widget.show()
        assert widget.model.source.endswith(demo_names()[0])
        assert widget.model.step is not None and widget.stats.class_names  # shipped concepts
    finally:
        widget.shutdown()
