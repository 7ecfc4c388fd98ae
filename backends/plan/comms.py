"""Bytes each rank sends per optimizer step, by collective, and the time at a link bandwidth.

Ring collectives over n ranks put these bytes on each rank's link
(NCCL-tests "bus bandwidth" convention), for a payload of S bytes:
all-reduce 2 (n - 1) / n * S, all-gather and reduce-scatter (n - 1) / n * S.

- DDP all-reduces the gradients once per step: about 2 |W|.
- FSDP all-gathers the parameters in forward and again in backward and
  reduce-scatters the gradients: about 3 |W| (``fsdp_grad_op`` keeps the
  parameters from forward to backward: about 2 |W|). Gathers repeat for
  every micro-batch.
- TP all-reduces a (batch x sequence x width) activation after each
  row-parallel layer in forward (two per block) and the input gradient of
  each column-parallel group in backward (two more).

Seconds are bytes over the link bandwidth (one direction, per GPU), with an
optional fixed latency per collective; overlap with compute is not assumed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from backends.plan.errors import PlanError, positive_number
from backends.plan.setup import TrainSetup
from backends.plan.shapes import ModelLayout

# Nominal one-direction bandwidth per GPU, bytes/s. Measured bus bandwidth is
# typically 70-90 % of these; put a measured figure in when you have one.
LINKS: dict[str, tuple[str, float]] = {
    "nvlink5": ("NVLink 5 (B200)", 900e9),
    "nvlink4": ("NVLink 4 (H100/H200 SXM)", 450e9),
    "nvlink3": ("NVLink 3 (A100 SXM)", 300e9),
    "pcie5": ("PCIe 5.0 x16", 64e9),
    "pcie4": ("PCIe 4.0 x16", 32e9),
    "pcie3": ("PCIe 3.0 x16", 16e9),
    "ib_ndr": ("InfiniBand NDR, 400 Gb/s", 50e9),
    "ib_hdr": ("InfiniBand HDR, 200 Gb/s", 25e9),
    "eth100": ("Ethernet, 100 Gb/s", 12.5e9),
    "eth10": ("Ethernet, 10 Gb/s", 1.25e9),
}


@dataclasses.dataclass(frozen=True)
class Collective:
    """One kind of collective in a step."""

    name: str  # what it moves, e.g. "all-reduce gradients"
    op: str  # "all_reduce" | "all_gather" | "reduce_scatter"
    group: int  # ranks taking part
    payload: int  # bytes of the full tensor(s) per call
    calls: int  # calls per optimizer step

    @property
    def wire_bytes(self) -> int:
        """Bytes this rank sends per step for this collective."""
        n = self.group
        if n <= 1:
            return 0
        factor = 2 * (n - 1) / n if self.op == "all_reduce" else (n - 1) / n
        return int(round(factor * self.payload * self.calls))


@dataclasses.dataclass(frozen=True)
class CommEstimate:
    collectives: tuple[Collective, ...]

    @property
    def bytes_per_step(self) -> int:
        return sum(c.wire_bytes for c in self.collectives)

    def seconds(self, bandwidth: float, latency: float = 0.0) -> float:
        """Seconds per step at ``bandwidth`` bytes/s, ``latency`` s per collective call."""
        bandwidth = positive_number("bandwidth", bandwidth)
        calls = sum(c.calls for c in self.collectives if c.group > 1)
        return self.bytes_per_step / bandwidth + latency * calls

    def as_dict(self) -> dict[str, Any]:
        return {
            "bytes_per_step": self.bytes_per_step,
            "collectives": [
                {**dataclasses.asdict(c), "wire_bytes": c.wire_bytes} for c in self.collectives
            ],
        }


def link_bandwidth(link: str | float) -> float:
    """Bytes/s of a preset name (see :data:`LINKS`) or a number of bytes/s."""
    if isinstance(link, str):
        key = link.strip().lower().replace("-", "").replace(" ", "").replace(".", "")
        for name, (_, bw) in LINKS.items():
            if key == name:
                return bw
        raise PlanError(f"link must be one of {', '.join(LINKS)} or a bandwidth in bytes/s, "
                        f"got {link!r}")
    return positive_number("bandwidth", link)


def estimate_comms(layout: ModelLayout, setup: TrainSetup) -> CommEstimate:
    """The collectives of one optimizer step of ``layout`` under ``setup``, per rank."""
    setup.check(layout)
    p = setup.precision_spec
    tp, dp, accum = setup.tp_degree, setup.dp, setup.grad_accum
    local = layout.local_params(tp)  # what one DP replica holds (TP-local)
    out: list[Collective] = []
    s = setup.strategy
    if s == "ddp":
        out.append(Collective("all-reduce gradients", "all_reduce", dp, local * p.grad, 1))
    elif s in ("fsdp", "fsdp_grad_op", "fsdp_tp"):
        gathered = p.compute if setup.fsdp_mixed_precision else p.param
        reduced = p.compute if setup.fsdp_mixed_precision else p.grad
        out.append(Collective("all-gather parameters (forward)", "all_gather", dp,
                              local * gathered, accum))
        if s != "fsdp_grad_op":
            out.append(Collective("all-gather parameters (backward)", "all_gather", dp,
                                  local * gathered, accum))
        out.append(Collective("reduce-scatter gradients", "reduce_scatter", dp,
                              local * reduced, accum))
    if tp > 1:
        g = layout.gpt
        if g is None:  # check() refuses this already; keeps type checkers honest
            raise PlanError(f"model {layout.kind!r} cannot be tensor-parallel")
        seq = setup.seq_len or g.block_size
        activation = setup.batch_size * seq * g.n_embd * p.compute
        out.append(Collective("all-reduce activations (forward, 2 per block)", "all_reduce",
                              tp, activation, 2 * g.n_layer * accum))
        out.append(Collective("all-reduce input grads (backward, 2 per block)", "all_reduce",
                              tp, activation, 2 * g.n_layer * accum))
    return CommEstimate(tuple(out))
