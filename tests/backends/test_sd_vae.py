"""A tiny random diffusers AutoencoderKL, saved here, in the latent studio's engine and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from backends.latent import brushes, interpolate, photos
from backends.latent.catalog import LatentModelError
from backends.latent.export import ExportError
from backends.latent.model import open_latent_model
from backends.latent.render import render
from tests.backends.sd_folders import make_vae_folder, write_photos


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory):
    return make_vae_folder(tmp_path_factory.mktemp("vae") / "tiny-vae")


@pytest.fixture(scope="module")
def model(vae_folder):
    return open_latent_model(vae_folder)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"))


def test_folder_opens_with_flat_scaled_latents_and_decoder_brush_layers(model):
    assert model.kind == "vae" and model.can_encode
    assert model.name.startswith("AutoencoderKL")
    assert (model.image_size, model.channels) == (64, 3)
    assert model.latent_dim == 4 * 32 * 32
    assert "vae.decoder.mid_block.resnets.1" in model.brush_layers
    assert model.brush_layers["vae.decoder.up_blocks.1.resnets.0"] == (32, 64, 64)
    assert not any("attention" in n or "conv_in" in n for n in model.brush_layers)


def test_encode_decode_shape_range_and_the_vaes_own_scaling(model, photo_files):
    from diffusers import AutoencoderKL

    x = photos.load_photo(photo_files[0], model.image_size, model.channels)
    assert x.shape == (1, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    z = model.encode(x)
    assert z.shape == (1, model.latent_dim) and torch.isfinite(z).all()
    back = model.decode(z)
    assert back.shape == (1, 3, 64, 64)
    assert 0.0 <= float(back.min()) and float(back.max()) <= 1.0
    # The same numbers as diffusers' own calls: mean * scaling_factor, decode(z / scaling_factor).
    vae = AutoencoderKL.from_pretrained(model.source).eval()
    with torch.no_grad():
        mean = vae.encode(x * 2 - 1).latent_dist.mean
        image = vae.decode(mean).sample
    scale = vae.config.scaling_factor
    assert torch.allclose(z, (mean * scale).flatten(1), atol=1e-5)
    assert torch.allclose(back, ((image + 1) / 2).clamp(0, 1), atol=1e-5)


def test_interpolation_strip_between_two_encoded_photos(model, photo_files):
    a, b = (model.encode(photos.load_photo(p, 64, 3))[0] for p in photo_files[:2])
    z = interpolate.strip([a, b], 5, "lerp")
    result = render(model, z)
    assert result.images.shape == (5, 64, 64, 3) and result.images.dtype == np.uint8
    ends = render(model, torch.stack([a, b])).images

    def apart(x, y):
        return int(np.abs(x.astype(int) - y.astype(int)).max())

    # The ends are the encoded photos (up to float rounding of a + (b - a) * 1).
    assert apart(result.images[0], ends[0]) <= 1 and apart(result.images[-1], ends[1]) <= 1
    assert apart(result.images[2], result.images[0]) > 10


def _inside_fraction(model, z, layer, freeze):
    mask = np.zeros((64, 64), bool)
    mask[24:40, 24:40] = True
    stroke = brushes.Stroke(layer, tuple(range(8)), "remove", mask)
    edits = brushes.composite([stroke], model.brush_layers)
    base = model.decode(z)
    edited = model.decode(z, edits, freeze_norms=freeze)
    change = (edited - base).abs().sum(1)[0].numpy()
    dilated = np.zeros_like(mask)
    dilated[24 - 8 : 40 + 8, 24 - 8 : 40 + 8] = True  # the mask grown by 8 px
    return float(change[dilated].sum() / change.sum()), float((change > 1e-6).mean())


@pytest.mark.parametrize(
    "layer", ["vae.decoder.mid_block.resnets.1", "vae.decoder.up_blocks.1.resnets.0"]
)
def test_brush_change_stays_near_its_mask(model, layer):
    z = model.latents_for_seeds([3])
    inside, changed = _inside_fraction(model, z, layer, freeze=True)
    assert inside > 0.9, inside
    # Without frozen GroupNorm statistics the same stroke changes the whole image.
    spread_inside, spread_changed = _inside_fraction(model, z, layer, freeze=False)
    assert spread_changed > 0.99 and changed < spread_changed
    assert inside > spread_inside


def test_unedited_decode_is_unchanged_by_the_frozen_norm_path(model):
    z = model.latents_for_seeds([1, 2])
    empty = brushes.composite(
        [brushes.Stroke("vae.decoder.up_blocks.0.resnets.0", (0,), "remove", np.zeros((64, 64)))],
        model.brush_layers,
    )
    # Re-normalising with the recorded statistics differs from GroupNorm's kernel only by rounding.
    assert torch.allclose(model.decode(z), model.decode(z, empty), atol=1e-5)


def test_principal_and_folder_directions_from_encoded_images(model, photo_files, tmp_path):
    z = photos.encode_folder(model, photo_files[0].parent)
    assert z.shape == (len(photo_files), model.latent_dim)
    found = photos.principal_directions(z, components=3)
    assert [d.name for d in found] == ["PC1", "PC2", "PC3"]
    assert found[0].sigma >= found[1].sigma >= found[2].sigma
    assert abs(float(found[0].vector.norm()) - 1) < 1e-5
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for p in photo_files[:2]:
        (first / p.name).write_bytes(p.read_bytes())
    for p in photo_files[2:]:
        (second / p.name).write_bytes(p.read_bytes())
    direction = photos.folder_direction(model, first, second)
    expected = z[2:].mean(0) - z[:2].mean(0)
    assert torch.allclose(direction.vector, expected / expected.norm(), atol=1e-5)


def test_bad_inputs_get_one_clear_message_each(vae_folder, tmp_path):
    from PIL import Image

    with pytest.raises(LatentModelError, match="no config.json"):
        open_latent_model(tmp_path)
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    with pytest.raises(LatentModelError, match="not an AutoencoderKL"):
        open_latent_model(unet)
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    (weightless / "config.json").write_text((vae_folder / "config.json").read_text())
    with pytest.raises(LatentModelError, match="no weights"):
        open_latent_model(weightless)

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ExportError, match="notes.png is not a readable image"):
        photos.load_photo(text, 64, 3)
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (64, 64), (0, 50, 100, 0)).save(cmyk)
    with pytest.raises(ExportError, match="CMYK.*8-bit RGB"):
        photos.load_photo(cmyk, 64, 3)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((64, 64), 40000, np.uint16)).save(deep)
    with pytest.raises(ExportError, match="16 or 32 bits"):
        photos.load_photo(deep, 64, 3)


def test_cli_writes_an_interpolation_strip(vae_folder, photo_files, tmp_path, capsys):
    from PIL import Image

    from workbench.cli import main

    out = tmp_path / "strip.png"
    code = main(
        [
            "sample",
            str(vae_folder),
            "--interpolate",
            str(photo_files[0]),
            str(photo_files[1]),
            "--steps",
            "6",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 6 and summary["model"] == "vae"
    with Image.open(out) as strip:
        assert 64 <= strip.size[1] < 2 * 64 and strip.size[0] >= 6 * 64  # one row of 6

    bad = tmp_path / "bad.png"
    bad.write_text("text")
    code = main(["sample", str(vae_folder), "--interpolate", str(bad), str(photo_files[1])])
    err = capsys.readouterr().err
    assert code != 0 and "bad.png is not a readable image" in err and "Traceback" not in err
    code = main(["sample", str(vae_folder), "--interpolate", str(photo_files[0])])
    err = capsys.readouterr().err
    assert code != 0 and "two or more" in err


def test_two_vaes_side_by_side_on_the_same_latent(model, tmp_path):
    from backends.latent.render import render_compare

    other = open_latent_model(make_vae_folder(tmp_path / "other-vae", seed=1))
    z = model.latents_for_seeds([5])
    mask = np.zeros((64, 64), bool)
    mask[:16, :16] = True
    stroke = brushes.Stroke("vae.decoder.up_blocks.0.resnets.0", (0, 1), "remove", mask)
    pair = render_compare(model, other, z, [stroke])
    first, second, skipped = pair.main, pair.compare, pair.skipped
    assert skipped == [] and first.images.shape == second.images.shape == (1, 64, 64, 3)
    assert not np.array_equal(first.images, second.images)


def test_folders_opened_in_the_wrong_room_say_where_they_go(vae_folder, tmp_path):
    from backends.text.errors import GenerationError
    from backends.text.models import load_text_model

    with pytest.raises(GenerationError, match="diffusers model.*latent studio"):
        load_text_model(vae_folder)
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(LatentModelError, match="'llama' model.*text playground"):
        open_latent_model(lm)
