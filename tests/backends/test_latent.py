"""The latent studio's engines: paths, directions, brushes, rendering, files, the sample verb."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from backends.latent import brushes, concepts, directions, export, interpolate
from backends.latent.brushes import Stroke, StrokeStack
from backends.latent.model import LatentModelError, open_latent_model
from backends.latent.render import render

# ---------------------------------------------------------------- interpolation


def test_slerp_keeps_gaussian_norm_where_lerp_shrinks_it():
    g = torch.Generator().manual_seed(0)
    d = 512
    a, b = torch.randn(d, generator=g), torch.randn(d, generator=g)
    typical = math.sqrt(d)
    mid_lerp = interpolate.lerp(a, b, 0.5).norm().item()
    mid_slerp = interpolate.slerp(a, b, 0.5).norm().item()
    # Two independent samples are nearly orthogonal: lerp's midpoint sits near sqrt(d/2).
    assert mid_lerp == pytest.approx(math.sqrt(d / 2), rel=0.05)
    assert mid_slerp == pytest.approx(typical, rel=0.05)
    for t in np.linspace(0, 1, 11):
        norm = interpolate.slerp(a, b, float(t)).norm().item()
        assert min(a.norm(), b.norm()) - 1e-3 <= norm <= max(a.norm(), b.norm()) + 1e-3


def test_slerp_ends_and_parallel_guard():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    assert torch.allclose(interpolate.slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(interpolate.slerp(a, b, 1.0), b, atol=1e-5)
    # Parallel and antiparallel vectors: no NaN, lerp instead.
    for other in (a * 2.0, -a, a.clone()):
        out = interpolate.slerp(a, other, 0.3)
        assert torch.isfinite(out).all()
        assert torch.allclose(out, interpolate.lerp(a, other, 0.3), atol=1e-5)
    # A t per row gives a strip in one call.
    rows = interpolate.slerp(a, b, torch.linspace(0, 1, 5))
    assert rows.shape == (5, 16)
    assert torch.allclose(rows[2], interpolate.slerp(a, b, 0.5), atol=1e-6)


def test_strip_path_and_plane():
    a, b, c = torch.eye(3)
    s = interpolate.strip([a, b, c], 5, "lerp")
    assert s.shape == (5, 3)
    assert torch.allclose(s[0], a) and torch.allclose(s[2], b) and torch.allclose(s[4], c)
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p = interpolate.plane(corners, 3, 3, "lerp")
    assert torch.allclose(p[0, 0], corners[0]) and torch.allclose(p[2, 2], corners[3])
    assert torch.allclose(p[1, 1], torch.tensor([0.5, 0.5]))
    # Bilinear weights: (1-u)(1-v), u(1-v), (1-u)v, uv.
    q = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    u, v = 0.3, 0.8
    expected = (1 - u) * (1 - v) * q[0] + u * (1 - v) * q[1] + (1 - u) * v * q[2] + u * v * q[3]
    assert torch.allclose(interpolate.plane_point(q, u, v, "lerp"), expected, atol=1e-6)
    with pytest.raises(interpolate.InterpolationError, match="at least 2 anchors"):
        interpolate.strip([a], 4)
    with pytest.raises(interpolate.InterpolationError, match="different sizes"):
        interpolate.slerp(torch.zeros(3), torch.zeros(4), 0.5)


# ---------------------------------------------------------------- directions


def test_pca_directions_recover_the_axis_the_layer_varies_along():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(400, 6, generator=g)
    # A "layer" that responds mostly to z[:, 2], weakly to z[:, 4].
    mix = torch.zeros(6, 20)
    mix[2, :10] = 3.0
    mix[4, 10:] = 0.5
    activations = z @ mix + 0.01 * torch.randn(400, 20, generator=g)
    found = directions.principal_directions(z, activations, n_components=2)
    assert abs(found[0].vector[2].item()) > 0.99
    assert abs(found[1].vector[4].item()) > 0.99
    assert found[0].score > found[1].score
    assert found[0].sigma == pytest.approx(1.0, rel=0.15)
    moved = directions.apply_directions(torch.zeros(6), found, [2.0, 0.0])
    assert moved.norm().item() == pytest.approx(2.0 * found[0].sigma, rel=1e-5)


def test_class_directions_point_from_source_to_target():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(200, 5, generator=g)
    labels = np.array([0] * 100 + [1] * 100)
    z[100:, 1] += 3.0  # class 1 sits further along axis 1
    mean_dir = directions.class_mean_direction(z, labels, 0, 1)
    assert mean_dir.vector[1].item() > 0.95
    assert mean_dir.score > 1.0
    boundary = directions.linear_boundary_direction(z, labels, 0, 1)
    assert boundary.vector[1].item() > 0.9
    assert boundary.score > 0.9
    with pytest.raises(directions.DirectionError, match="at least 2"):
        directions.class_mean_direction(z, labels, 0, 7)


# ---------------------------------------------------------------- brushes (no model)


def test_mask_pooling_is_adaptive_max_one_pixel_lights_a_cell():
    mask = np.zeros((28, 28), bool)
    mask[5, 20] = True
    pooled = brushes.pool_mask(mask, (7, 7))
    assert pooled.sum().item() == 1.0
    assert pooled[1, 5].item() == 1.0  # 28 / 7 = 4 px per cell
    mean = brushes.pool_mask(mask, (7, 7), "mean")
    assert mean[1, 5].item() == pytest.approx(1 / 16)
    overlay = brushes.upsample_grid(pooled, (28, 28))
    assert overlay[4:8, 20:24].all() and overlay.sum() == 16


def test_composite_over_rule_later_stroke_wins():
    shapes = {"layer1": (4, 2, 2)}
    levels = {"layer1": torch.tensor([1.0, 2.0, 3.0, 4.0])}
    left = np.array([[1, 0], [1, 0]], bool)
    top = np.array([[1, 1], [0, 0]], bool)
    draw = Stroke("layer1", (0, 1), "draw", left)
    remove = Stroke("layer1", (1, 2), "remove", top)
    alpha, value = brushes.composite([draw, remove], shapes, levels)["layer1"]
    # Unit 1, top-left: drawn then removed -> the later stroke (0) wins.
    assert alpha[1, 0, 0] == 1 and value[1, 0, 0] == 0
    # Unit 1, bottom-left: only drawn -> its 99th-percentile level.
    assert value[1, 1, 0] == 2.0
    # Unit 0 untouched by the remove stroke; unit 3 never touched at all.
    assert value[0, 0, 0] == 1.0 and alpha[3].sum() == 0
    # Fractional alphas follow the formula exactly.
    a_acc, v_acc, a_new, v_new = 0.5, 4.0, 0.25, 8.0
    a = 1 - (1 - a_new) * (1 - a_acc)
    expected = (v_acc * a_acc * (1 - a_new) + v_new * a_new) / a
    x = torch.zeros(1, 1, 1, 1)
    half = np.array([[1, 1], [0, 0]], float)  # mean-pools to 0.5
    quarter = np.array([[1, 0], [0, 0]], float)  # mean-pools to 0.25
    first = Stroke("L", (0,), "draw", half, pooling="mean", value=v_acc)
    second = Stroke("L", (0,), "draw", quarter, pooling="mean", value=v_new)
    alpha2, value2 = brushes.composite([first, second], {"L": (1, 1, 1)})["L"]
    assert alpha2.item() == pytest.approx(a) and value2.item() == pytest.approx(expected)
    edited = brushes.apply_edit(x, alpha2, value2)
    assert edited.item() == pytest.approx(expected * a)


def test_bad_strokes_are_refused_with_a_reason():
    with pytest.raises(brushes.BrushError, match="mode"):
        Stroke("layer1", (0,), "smudge", np.ones((2, 2)))
    with pytest.raises(brushes.BrushError, match="do not exist"):
        brushes.composite([Stroke("layer1", (9,), "remove", np.ones((2, 2)))], {"layer1": (4, 2, 2)})
    with pytest.raises(brushes.BrushError, match="not a brush layer"):
        brushes.composite([Stroke("nope", (0,), "remove", np.ones((2, 2)))], {"layer1": (4, 2, 2)})


def test_stroke_stack_undo_redo_delete_reset():
    stack = StrokeStack()
    s = [Stroke("l", (i,), "remove", np.ones((2, 2)), label=str(i)) for i in range(3)]
    for stroke in s:
        stack.push(stroke)
    assert [x.label for x in stack.strokes] == ["0", "1", "2"]
    stack.undo()
    assert [x.label for x in stack.strokes] == ["0", "1"]
    stack.redo()
    assert len(stack) == 3
    stack.delete(0)
    assert [x.label for x in stack.strokes] == ["1", "2"]
    stack.undo()  # deleting is undoable
    assert [x.label for x in stack.strokes] == ["0", "1", "2"]
    stack.reset()
    assert len(stack) == 0 and stack.can_undo()
    stack.undo()
    stack.undo()
    stack.push(s[0])  # a new stroke forgets the redo branch
    assert not stack.can_redo() and [x.label for x in stack.strokes] == ["0", "1", "0"]


def test_unit_ranking_and_levels():
    g = torch.Generator().manual_seed(5)
    acts = torch.rand(100, 6, 2, 2, generator=g)
    score = acts[:, 4].mean((1, 2)) * 2 + 0.01 * torch.rand(100, generator=g)
    order, corr = brushes.rank_units(acts.mean((2, 3)), score)
    assert order[0].item() == 4 and corr[4] > 0.99
    acts[:, 5] = 0.0  # a dead unit scores 0, not NaN
    _, corr = brushes.rank_units(acts.mean((2, 3)), score)
    assert corr[5].item() == 0.0
    levels = brushes.unit_levels(acts)
    assert levels.shape == (6,) and 0.95 < levels[0].item() <= 1.0
    assert brushes.units_for_intensity(order, "low") == tuple(order[:4].tolist())


# ---------------------------------------------------------------- models (tiny, untrained)


def _save_checkpoint(folder, kind, config, model, step=5):
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    meta = {"model": kind, "model_config": config.to_dict(), "step": step}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def dcgan_dir(tmp_path_factory):
    from backends.models.dcgan import DCGAN, DCGANConfig

    torch.manual_seed(0)
    config = DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=16)
    run = tmp_path_factory.mktemp("run")
    _save_checkpoint(run / "checkpoints" / "step_0000002", "dcgan", config, DCGAN(config), step=2)
    return _save_checkpoint(run / "checkpoints" / "step_0000010", "dcgan", config, DCGAN(config), step=10)


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    from backends.models.vae import VAE, VAEConfig

    torch.manual_seed(0)
    config = VAEConfig(latent_dim=4, nc=1, image_size=16, hidden=4)
    return _save_checkpoint(tmp_path_factory.mktemp("vae") / "ckpt", "vae", config, VAE(config))


def test_open_dcgan_checkpoint_or_run_folder(dcgan_dir):
    model = open_latent_model(dcgan_dir.parent.parent)  # the run folder: its newest checkpoint
    assert model.kind == "dcgan" and model.step == 10 and model.latent_dim == 8
    assert model.brush_layers == {"layer1": (8, 4, 4), "layer2": (4, 8, 8)}
    early = open_latent_model(dcgan_dir.parent / "step_0000002")
    assert early.step == 2


def test_wrong_kind_and_damaged_checkpoints_are_refused(tmp_path, dcgan_dir):
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "meta.json").write_text(json.dumps({"model": "gpt", "model_config": {}}))
    with pytest.raises(LatentModelError, match="GPT.*DCGAN or VAE"):
        open_latent_model(gpt)
    with pytest.raises(LatentModelError, match="no such checkpoint"):
        open_latent_model(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text((dcgan_dir / "meta.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(LatentModelError, match="unreadable|cannot load"):
        open_latent_model(broken)
    with pytest.raises(LatentModelError, match="run has no checkpoint"):
        (tmp_path / "empty_run" / "checkpoints").mkdir(parents=True)
        open_latent_model(tmp_path / "empty_run")


def test_seeds_are_per_cell_and_truncation_bounds_latents(dcgan_dir):
    model = open_latent_model(dcgan_dir)
    a = model.latents_for_seeds([3, 4, 5])
    b = model.latents_for_seeds([5])
    assert torch.equal(a[2], b[0])  # a cell depends only on its seed
    t = model.latents_for_seeds(range(50), truncation=0.5)
    assert t.abs().max().item() <= 0.5
    with pytest.raises(LatentModelError, match="size 5 but this model takes 8"):
        model.check_latents(torch.zeros(2, 5))


def test_brush_changes_activations_only_inside_the_pooled_mask(dcgan_dir):
    model = open_latent_model(dcgan_dir)
    z = model.latents_for_seeds([0, 1])
    mask = np.zeros((16, 16), bool)
    mask[0:3, 9:11] = True  # pools to cells (0, 2) and (0, 2)..(1, 2) on the 4x4 layer1 grid
    stroke = Stroke("layer1", (1, 5), "draw", mask)
    levels = {"layer1": torch.full((8,), 7.5)}
    edits = brushes.composite([stroke], model.brush_layers, levels)
    before = model.activations(z, ["layer1"])["layer1"]
    with brushes.edit_layers(model.net, edits), brushes.capture_layers(model.net, ["layer1"]) as seen:
        model._decode_raw(z)
    after = seen["layer1"]
    changed = (after != before).any(dim=0)  # (C, h, w) over the batch
    pooled = brushes.pool_mask(mask, (4, 4)) > 0
    inside = torch.zeros_like(changed)
    inside[[1, 5]] = pooled
    assert changed.any()
    assert not (changed & ~inside).any()  # nothing outside the chosen units' pooled cells
    assert torch.all(after[:, [1, 5]][:, :, pooled] == 7.5)
    # Remove sets the units to zero there; the image changes as well.
    off = brushes.composite([Stroke("layer1", (1, 5), "remove", mask)], model.brush_layers)
    with brushes.edit_layers(model.net, off), brushes.capture_layers(model.net, ["layer1"]) as seen:
        model._decode_raw(z)
    assert torch.all(seen["layer1"][:, [1, 5]][:, :, pooled] == 0)
    plain = render(model, z).images
    painted = render(model, z, [stroke], levels).images
    assert not np.array_equal(plain, painted)
    assert set(render(model, z, [stroke], levels).masks) == {"layer1"}


def test_undo_returns_the_exact_previous_image(dcgan_dir):
    model = open_latent_model(dcgan_dir)
    z = model.latents_for_seeds([7])
    levels = {name: torch.full((shape[0],), 3.0) for name, shape in model.brush_layers.items()}
    stack = StrokeStack()
    left = np.zeros((16, 16), bool)
    left[:, :6] = True
    stack.push(Stroke("layer2", (0, 1, 2), "draw", left))
    first = render(model, z, stack.strokes, levels).images
    stack.push(Stroke("layer1", tuple(range(8)), "remove", ~left))
    second = render(model, z, stack.strokes, levels).images
    assert not np.array_equal(first, second)
    stack.undo()
    assert np.array_equal(render(model, z, stack.strokes, levels).images, first)
    stack.redo()
    assert np.array_equal(render(model, z, stack.strokes, levels).images, second)
    stack.reset()
    assert np.array_equal(render(model, z, stack.strokes, levels).images, render(model, z).images)


def test_vae_encodes_and_takes_brushes_on_its_decoder(vae_dir):
    model = open_latent_model(vae_dir)
    assert model.kind == "vae" and model.can_encode
    assert model.brush_layers == {"from_latent": (8, 4, 4), "decoder.1": (4, 8, 8)}
    images = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    mu = model.encode(images)
    assert mu.shape == (3, 4)
    assert render(model, mu).images.shape == (3, 16, 16, 1)
    mask = np.zeros((16, 16), bool)
    mask[:8, :8] = True
    before = model.activations(mu, ["from_latent"])["from_latent"]
    edits = brushes.composite([Stroke("from_latent", (0,), "remove", mask)], model.brush_layers)
    with brushes.edit_layers(model.net, edits, model.brush_layers), \
            brushes.capture_layers(model.net, ["from_latent"], model.brush_layers) as seen:
        model._decode_raw(mu)
    changed = (seen["from_latent"] != before).any(0)
    assert not changed[1:].any() and not changed[0, 2:].any() and not changed[0, :, 2:].any()


def test_dcgan_cannot_encode(dcgan_dir):
    with pytest.raises(LatentModelError, match="no encoder"):
        open_latent_model(dcgan_dir).encode(torch.zeros(1, 1, 16, 16))


def test_unit_statistics_rank_units_and_round_trip(tmp_path, dcgan_dir):
    model = open_latent_model(dcgan_dir)
    g = torch.Generator().manual_seed(1)
    # Two classes of dataset images: the top half lit, or the bottom half.
    images = 0.2 * torch.rand(80, 1, 16, 16, generator=g)
    labels = np.arange(80) % 2
    images[labels == 0, :, :8] += 0.7
    images[labels == 1, :, 8:] += 0.7
    classifier = concepts.train_concept_classifier(images, labels, ["top", "bottom"])
    assert classifier.accuracy(images, labels) == 1.0
    stats = concepts.compute_unit_statistics(model, classifier, samples=64, batch=32, effect_samples=16)
    assert set(stats.layers) == {"layer1", "layer2"}
    # The causal ranking: drawing the best "bottom" unit under the probe mask raises the
    # "bottom" score there more than drawing the worst.
    draw, _remove = concepts.unit_effects(model, classifier, "layer2",
                                          stats.layers["layer2"].levels, torch.randn(16, 8, generator=g))
    order = stats.layers["layer2"].order["bottom"]
    assert draw[1, order[0]] > draw[1, order[-1]]
    assert stats.verified
    for layer in stats.layers:
        for name in set(stats.class_names) - set(stats.offered(layer)):
            assert stats.why_unusable(layer, name)
    by_corr = concepts.compute_unit_statistics(model, classifier, samples=64, ranking="correlation")
    assert by_corr.ranking == "correlation" and by_corr.verified
    for name in by_corr.offered("layer1"):
        assert 1 <= len(by_corr.units("layer1", name, 4)) <= 4
    path = tmp_path / "stats.npz"
    stats.save(path)
    loaded = concepts.UnitStatistics.load(path)
    assert loaded.class_names == ["top", "bottom"] and loaded.verified
    assert torch.equal(loaded.layers["layer1"].levels, stats.layers["layer1"].levels)
    for layer in stats.layers:
        assert loaded.offered(layer) == stats.offered(layer)
        for name in stats.offered(layer):
            assert loaded.units(layer, name, 4) == stats.units(layer, name, 4)
    with pytest.raises(concepts.ConceptError, match="not a unit statistics file"):
        concepts.UnitStatistics.load(tmp_path / "nope.npz")


# ---------------------------------------------------------------- files


def test_gif_export_has_the_requested_frame_count(tmp_path, dcgan_dir):
    model = open_latent_model(dcgan_dir)
    a, b = model.latents_for_seeds([1, 2])
    frames = render(model, interpolate.strip([a, b], 9)).images
    written = export.save_gif(tmp_path / "walk.gif", list(frames), fps=10)
    assert written == 9 == export.gif_frame_count(tmp_path / "walk.gif")


def test_mp4_export_when_imageio_ffmpeg_is_installed(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v3 as iio

    frames = [np.full((8, 8, 1), 25 * i, np.uint8) for i in range(6)]
    assert export.save_mp4(tmp_path / "walk.mp4", frames, fps=6, scale=2) == 6
    assert iio.imread(tmp_path / "walk.mp4").shape == (6, 16, 16, 3)


def test_png_grid_layout(tmp_path):
    images = np.full((5, 4, 4, 1), 200, np.uint8)
    g = export.grid(images, cols=3, pad=1)
    assert g.shape == (2 * 4 + 3, 3 * 4 + 4, 1)
    path = export.save_png(tmp_path / "g.png", g)
    from PIL import Image

    assert Image.open(path).size == (16, 11)


def test_latents_round_trip_and_wrong_dimension(tmp_path):
    z = torch.randn(3, 8)
    path = export.save_latents(tmp_path / "z.npz", z, [4, None, 6], {"checkpoint": "x"})
    loaded, seeds = export.load_latents(path, 8)
    assert torch.equal(loaded, z) and seeds == [4, None, 6]
    with pytest.raises(export.ExportError, match="size 8 but this model takes 16"):
        export.load_latents(path, 16)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(export.ExportError, match="not a latents file"):
        export.load_latents(tmp_path / "junk.npz", 8)


def test_image_files_are_converted_or_refused(tmp_path):
    from PIL import Image

    Image.new("RGB", (60, 40), (255, 0, 0)).save(tmp_path / "photo.jpg")
    x = export.load_image(tmp_path / "photo.jpg", 16, 1)
    assert x.shape == (1, 1, 16, 16) and 0.2 < x.mean().item() < 0.4  # red in grey
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(export.ExportError, match="not a readable image"):
        export.load_image(tmp_path / "notes.png", 16, 1)
    Image.new("L", (4, 4)).save(tmp_path / "tiny.png")
    with pytest.raises(export.ExportError, match="at least 8 px"):
        export.load_image(tmp_path / "tiny.png", 16, 1)
    Image.new("L", (400, 20)).save(tmp_path / "strip.png")
    with pytest.raises(export.ExportError, match="too far from square"):
        export.load_image(tmp_path / "strip.png", 16, 1)


# ---------------------------------------------------------------- CLI


def test_sample_verb_writes_a_grid_and_json(tmp_path, dcgan_dir, capsys):
    from workbench.cli import main

    out = tmp_path / "grid.png"
    code = main(["sample", str(dcgan_dir), "--seed", "3", "--n", "6", "--cols", "3",
                 "--out", str(out), "--json", "--truncation", "1.0"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seeds"] == [3, 4, 5, 6, 7, 8] and summary["model"] == "dcgan"
    from PIL import Image

    assert Image.open(out).size == (3 * 16 + 4 * 2, 2 * 16 + 3 * 2)
    code = main(["sample", str(tmp_path / "nowhere"), "--out", str(out)])
    assert code == 2
    assert "no such checkpoint" in capsys.readouterr().err


# ---------------------------------------------------------------- shipped brushes


@pytest.mark.parametrize("demo", ["dcgan-fashion", "vae-fashion"])
def test_every_offered_concept_of_the_shipped_demos_draws_and_removes_it(demo):
    """Draw raises and remove lowers the concept's score inside the mask, on fresh latents.

    The judge is the concept classifier (a pixel logistic regression trained on the
    dataset), independent of the generator; the latents are not those the units
    were chosen or checked on. The mask is the probe mask (the middle of the image).
    """
    from backends.latent import analysis

    model = open_latent_model(Path(__file__).parents[2] / "resources" / "demo" / demo)
    classifier = analysis.concept_classifier_for(model)
    stats = analysis.unit_statistics_for(model, classifier)
    assert stats.verified
    z = torch.randn(96, model.latent_dim, generator=torch.Generator().manual_seed(2024))
    margin = 0.05
    offered_somewhere = 0
    for layer in model.brush_layers:
        offered = stats.offered(layer)
        offered_somewhere += len(offered)
        for name in offered:
            c = stats.class_names.index(name)
            z_remove = concepts.concept_latents(model, classifier, z, c)
            for count in (4, 10, 15):
                units = stats.units(layer, name, count)
                for mask in concepts.probe_masks(model.image_size):
                    rise, fall = concepts.brush_effect(
                        model, classifier, layer, stats.layers[layer].levels, units, c, mask,
                        z, z_remove,
                    )
                    assert rise > margin and fall > margin, (layer, name, count, rise, fall)
        # No two offered concepts paint with the same units on one layer.
        for count in (4, 10, 15):
            sets = [frozenset(stats.units(layer, name, count)) for name in offered]
            assert len(set(sets)) == len(sets), (layer, count)
        for name in set(stats.class_names) - set(offered):
            assert stats.why_unusable(layer, name)
    # Most concepts are offered somewhere, and T-shirt can be brushed on the DCGAN.
    assert offered_somewhere >= 10
    if demo == "dcgan-fashion":
        assert "T-shirt/top" in stats.offered("layer2")
