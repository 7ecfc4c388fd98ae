"""How close the planner's per-rank total comes to a real training step's peak, on CPU.

For a few GPT shapes, precisions and activation checkpointing, one AdamW step
runs under ``torch.distributed._tools.mem_tracker.MemTracker``, which counts
every tensor storage (parameters, gradients, optimizer state, activations,
temporaries) as it is allocated and freed, on any device. The planner's
``total`` is compared with the tracked peak, and so is the rule of thumb
``accelerate estimate-memory`` applies for training with Adam (4 x the fp32
weights; no activations). That peer is the formula, computed here; accelerate
itself is not run. A ratio of 1.00 is a perfect prediction.

    python bench/plan_accuracy.py
"""

from __future__ import annotations

import time

import torch
from torch.distributed._tools.mem_tracker import MemTracker
from torch.utils.checkpoint import checkpoint

from backends.models import GPT, GPTConfig
from backends.plan import TrainSetup, estimate_memory, gpt_layout

CASES = [
    # (label, config, batch, precision, activation checkpointing)
    ("tiny fp32", dict(vocab_size=96, block_size=64, n_layer=2, n_head=4, n_embd=64), 16,
     "fp32", False),
    ("small fp32", dict(vocab_size=512, block_size=128, n_layer=4, n_head=8, n_embd=256), 8,
     "fp32", False),
    ("small bf16-mixed", dict(vocab_size=512, block_size=128, n_layer=4, n_head=8, n_embd=256), 8,
     "bf16-mixed", False),
    ("small fp32 + ckpt", dict(vocab_size=512, block_size=128, n_layer=4, n_head=8, n_embd=256),
     8, "fp32", True),
    ("wide vocab fp32", dict(vocab_size=8192, block_size=128, n_layer=2, n_head=4, n_embd=128), 8,
     "fp32", False),
]


def _checkpoint_blocks(model: GPT) -> None:
    for block in model.transformer.h:
        forward = block.forward
        block.forward = lambda x, *a, _f=forward: checkpoint(_f, x, *a, use_reentrant=False)


def measure_peak(config: dict, batch: int, precision: str, ckpt: bool) -> int:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**config))
    if ckpt:
        _checkpoint_blocks(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    idx = torch.randint(0, config["vocab_size"], (batch, config["block_size"]))
    tracker = MemTracker()
    tracker.track_external(model, optimizer)

    def step() -> None:
        if precision == "bf16-mixed":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                _, loss = model(idx, idx)
        else:
            _, loss = model(idx, idx)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with tracker:
        step()  # first step creates the optimizer state
        tracker.reset_mod_stats()
        step()
    peak = tracker.get_tracker_snapshot("peak")
    return int(sum(dev["Total"] for dev in peak.values()))


def main() -> None:
    print(f"{'case':<20}{'measured MiB':>14}{'planner':>10}{'ratio':>8}{'4x weights':>12}"
          f"{'ratio':>8}")
    ours, peers = [], []
    for label, config, batch, precision, ckpt in CASES:
        t0 = time.perf_counter()
        measured = measure_peak(config, batch, precision, ckpt)
        layout = gpt_layout(config)
        setup = TrainSetup(batch_size=batch, precision=precision, activation_checkpointing=ckpt)
        predicted = estimate_memory(layout, setup).total
        peer = 4 * 4 * layout.params  # accelerate estimate-memory, training with Adam
        ours.append(predicted / measured)
        peers.append(peer / measured)
        print(f"{label:<20}{measured / 2**20:14.2f}{predicted / 2**20:10.2f}{ours[-1]:8.2f}"
              f"{peer / 2**20:12.2f}{peers[-1]:8.2f}   ({time.perf_counter() - t0:.1f} s)")
    worst_ours = max(abs(r - 1) for r in ours)
    worst_peer = max(abs(r - 1) for r in peers)
    print(f"worst error: planner {worst_ours:.0%}, 4x-weights peer {worst_peer:.0%} "
          f"(peer / planner error ratio {worst_peer / max(worst_ours, 1e-9):.1f}x)")


if __name__ == "__main__":
    main()
