"""Training data for the trainer: the datasets per model, split, and the global batch order.

Every dataset here is small enough to live in memory as tensors, so a batch is
an index lookup. :class:`GlobalBatches` decides which examples make up the
global batch of each optimizer step as a pure function of ``(seed, step)``:
each data-parallel rank takes its contiguous share of that batch, so the
global batch is the same for any number of processes (strategies can be
compared step for step) and resuming at step ``s`` needs only ``s`` (the data
position is exact, with no sampler state to save).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from backends.data.errors import DataError
from backends.train.config import TrainConfig, TrainConfigError

Batch = tuple[torch.Tensor, ...]


@dataclass
class TensorData:
    """Examples as tensors with a common first dimension; ``batch(idx)`` stacks some."""

    tensors: tuple[torch.Tensor, ...]

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def batch(self, indices: torch.Tensor) -> Batch:
        return tuple(t[indices] for t in self.tensors)


@dataclass
class TokenWindows:
    """Non-overlapping windows of a token stream: example ``i`` is ``tokens[i*T : i*T + T + 1]``."""

    tokens: torch.Tensor  # (N,) int64
    block_size: int

    def __len__(self) -> int:
        return max(0, (len(self.tokens) - 1) // self.block_size)

    def batch(self, indices: torch.Tensor) -> Batch:
        starts = indices.to(torch.long) * self.block_size
        offsets = torch.arange(self.block_size + 1)
        rows = self.tokens[starts[:, None] + offsets[None, :]]
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


@dataclass
class TrainData:
    """The train and validation sets plus what the model config needs from the data."""

    train: Any  # TensorData | TokenWindows
    val: Any | None
    model_fields: dict[str, Any]  # e.g. {"vocab_size": 65}
    dataset: str  # a name for the run's meta and the GUI
    tokenizer: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class GlobalBatches:
    """Which examples form the global batch of each step: one seeded permutation per epoch."""

    def __init__(self, n_items: int, batch_size: int, seed: int) -> None:
        if n_items < 1:
            raise DataError("the training set is empty: pick a larger dataset or lower data.limit")
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.clear()
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perms[epoch] = torch.randperm(self.n_items, generator=g)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        """The ``batch_size`` example indices of optimizer step ``step`` (0-based)."""
        start = step * self.batch_size
        positions = torch.arange(start, start + self.batch_size)
        epochs = positions // self.n_items
        out = torch.empty(self.batch_size, dtype=torch.long)
        for epoch in epochs.unique().tolist():
            mask = epochs == epoch
            out[mask] = self._perm(epoch)[positions[mask] % self.n_items]
        return out

    def micro_batches(self, step: int, dp_rank: int, dp_size: int, accum: int) -> list[torch.Tensor]:
        """This rank's share of step ``step``, cut into ``accum`` equal micro-batches."""
        share = self.indices(step).chunk(dp_size)[dp_rank]
        return list(share.chunk(accum))


def split_val(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic train / validation index split (validation never trained on)."""
    g = torch.Generator().manual_seed(seed + 7919)
    perm = torch.randperm(n, generator=g)
    n_val = int(round(n * fraction)) if fraction > 0 else 0
    if fraction > 0 and n > 1:
        n_val = max(1, min(n_val, n - 1))
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def _limited(indices: torch.Tensor, limit: int) -> torch.Tensor:
    return indices[:limit] if limit else indices


# ---------------------------------------------------------------- per model


def _text_data(config: TrainConfig) -> TrainData:
    from backends.data import text as text_data

    d = config.data
    if d.dataset == "file" and not d.path:
        raise TrainConfigError("data.dataset=file needs data.path=<a UTF-8 text file>")
    corpus = text_data.load_corpus(d.path or d.dataset)
    tokenizer = text_data.CharTokenizer.from_text(corpus.text)
    tokens = torch.from_numpy(tokenizer.encode_array(corpus.text).astype("int64"))
    block = int(config.model_config.get("block_size", 0))
    if block < 1:
        raise TrainConfigError("model_config.block_size must be set for gpt (e.g. 64)")
    n_val = int(len(tokens) * d.val_fraction)
    # The held-out text is the end of the corpus: contiguous, so no window straddles the split.
    train_tokens = tokens[: len(tokens) - n_val] if n_val else tokens
    val_tokens = tokens[len(tokens) - n_val :] if n_val else None
    if d.limit:
        train_tokens = train_tokens[: d.limit * block + 1]
    train = TokenWindows(train_tokens, block)
    if len(train) < 1:
        raise DataError(
            f"the text {corpus.name!r} has {len(train_tokens)} training characters, fewer than "
            f"one window of block_size={block}: use a longer text or a smaller block_size"
        )
    val = TokenWindows(val_tokens, block) if val_tokens is not None else None
    if val is not None and len(val) == 0:
        val = None
    return TrainData(
        train,
        val,
        {"vocab_size": len(tokenizer)},
        corpus.name,
        tokenizer=tokenizer.to_dict(),
        extra={"prompt": tokenizer.decode(train_tokens[:16].tolist())},
    )


def _image_data(config: TrainConfig, scale: str) -> TrainData:
    from backends.data import images

    d = config.data
    imageset = images.load_images(d.dataset, d.path or None)
    dataset = imageset.to_dataset(scale)
    pixels, labels = dataset.batch(torch.arange(len(dataset)))
    train_idx, val_idx = split_val(len(dataset), d.val_fraction, config.seed)
    train_idx = _limited(train_idx, d.limit)
    fields = {"nc": int(pixels.shape[1]), "image_size": int(pixels.shape[-1])}
    val = TensorData((pixels[val_idx], labels[val_idx])) if len(val_idx) else None
    return TrainData(TensorData((pixels[train_idx], labels[train_idx])), val, fields, imageset.name)


def _tabular_data(config: TrainConfig) -> TrainData:
    d = config.data
    x, y, name = load_tabular_arrays(d.dataset, d.path, config.seed)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std  # standardised features: the optimiser sees comparable scales
    train_idx, val_idx = split_val(len(x), d.val_fraction, config.seed)
    train_idx = _limited(train_idx, d.limit)
    n_classes = int(y.max().item()) + 1 if len(y) else 2
    fields = {"n_features": int(x.shape[1]), "n_classes": max(2, n_classes)}
    val = TensorData((x[val_idx], y[val_idx])) if len(val_idx) else None
    return TrainData(
        TensorData((x[train_idx], y[train_idx])),
        val,
        fields,
        name,
        extra={"feature_mean": mean.tolist(), "feature_std": std.tolist()},
    )


TABULAR_SOURCES = ("auto", "breast-cancer", "synthetic", "adult", "compas")


def load_tabular_arrays(name: str, path: str, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Features (float32) and integer labels for a tabular dataset name."""
    if name in ("auto", "breast-cancer"):
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        x, y = data.data, data.target
        label = "breast-cancer"
    elif name == "synthetic":
        from sklearn.datasets import make_classification

        x, y = make_classification(n_samples=1000, n_features=12, n_informative=6, random_state=seed)
        label = "synthetic"
    elif name in ("adult", "compas"):
        x, y = _named_tabular(name, path)
        label = name
    else:
        raise DataError(
            f"data.dataset {name!r} is not a tabular dataset: choose one of {', '.join(TABULAR_SOURCES)}"
        )
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long), label


def _named_tabular(name: str, path: str) -> tuple[Any, Any]:
    try:
        from backends.data import tabular
    except ImportError as exc:
        raise DataError(f"the {name} dataset loader is not available in this installation") from exc
    loader = getattr(tabular, "training_arrays", None)
    if loader is None:
        raise DataError(f"the {name} dataset loader has no training arrays; use data.dataset=auto")
    return loader(name, path or None)


_LOADERS: dict[str, Callable[[TrainConfig], TrainData]] = {
    "gpt": _text_data,
    "dcgan": lambda c: _image_data(c, "symmetric"),  # tanh output range
    "vae": lambda c: _image_data(c, "unit"),  # Bernoulli / sigmoid range
    "classifier": _tabular_data,
}


def load_data(config: TrainConfig) -> TrainData:
    """The data for ``config``; a missing or unusable dataset raises :class:`DataError`."""
    if config.data.path and not Path(config.data.path).expanduser().exists():
        raise DataError(
            f"data.path {config.data.path} does not exist: give an existing file or folder, "
            "or leave it empty for the shipped data"
        )
    data = _LOADERS[config.model](config)
    for name, value in data.model_fields.items():
        given = config.model_config.get(name)
        if given is not None and given != value:
            raise TrainConfigError(
                f"model_config.{name}={given} but the data ({data.dataset}) has {value}: "
                f"remove model_config.{name}, the trainer sets it from the data"
            )
    return data


def check_data(config: TrainConfig) -> TrainData:
    """Load the data once before launching, so a bad path is reported before any process starts."""
    return load_data(config)
