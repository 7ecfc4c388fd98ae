"""Deterministic train/validation splits and per-rank shards of a dataset.

Every rank reads its own shard through torch's ``DistributedSampler`` with an
explicit ``rank``/``num_replicas`` (so no process group is needed to build
it). Its permutation depends only on ``seed + epoch``, and rank ``r`` takes
positions ``r, r + W, r + 2W, ...``: with a per-rank batch of ``B``, the
ranks' k-th batches together are exactly the k-th batch of ``W * B`` that a
single process with the same seed reads. That is what lets a distributed run
be compared step by step with single-process training on the same global batch.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset, DistributedSampler


def split_indices(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled ``(train, val)`` index arrays over ``range(n)``; the same for the same seed.

    ``val`` holds ``round(n * val_fraction)`` indices (at least one when the
    fraction is positive and ``n > 1``); both arrays are sorted so a subset
    keeps the source order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n > 1:
        n_val = max(1, n_val)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def shard_sampler(
    dataset: Dataset,
    *,
    rank: int,
    world_size: int,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = True,
) -> DistributedSampler:
    """This rank's sampler; call ``set_epoch(e)`` at each epoch for a new order."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size}")
    return DistributedSampler(
        dataset,
        num_replicas=world_size,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )
