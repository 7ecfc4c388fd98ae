"""What each rank measures about itself: memory, the bytes of its share of the model, throughput.

On CUDA the caching allocator's own counters are read (no device sync):
allocated and reserved now, the peaks since the previous record (the peaks are
reset after each read, so every point is its window's peak), the active peak,
allocation retries and OOMs, and the device's free/total memory. On CPU the
process RSS. On both, the bytes of this rank's parameters, gradients and
optimizer state: local shards only, so FSDP and TP savings show per rank.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# NOTE: torch is imported inside the functions that take tensors, so a script's client
# (``backends.client``) can read the process RSS without importing torch.


def local_bytes(tensors: Iterable[torch.Tensor | None]) -> int:
    """Bytes held by this rank for ``tensors`` (a DTensor counts its local shard)."""
    from torch.distributed.tensor import DTensor

    total = 0
    seen: set[int] = set()
    for t in tensors:
        if t is None:
            continue
        local = t.to_local() if isinstance(t, DTensor) else t
        key = id(local)
        if key in seen:
            continue
        seen.add(key)
        total += local.numel() * local.element_size()
    return total


def optimizer_bytes(optimizers: Iterable[torch.optim.Optimizer]) -> int:
    import torch

    return local_bytes(
        value
        for opt in optimizers
        for state in opt.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )


def process_rss() -> int:
    """Resident memory of this process in bytes (current on Linux, peak elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if os.uname().sysname == "Darwin" else peak * 1024


def memory_record(
    device: torch.device,
    parameters: list[torch.nn.Parameter],
    optimizers: list[torch.optim.Optimizer],
) -> dict[str, Any]:
    """One ``kind="memory"`` record's values for this rank."""
    import torch

    values: dict[str, Any] = {
        "device": str(device),
        "param_bytes": local_bytes(parameters),
        "grad_bytes": local_bytes(p.grad for p in parameters),
        "optim_bytes": optimizer_bytes(optimizers),
        "rss": process_rss(),
    }
    if device.type == "cuda":
        stats = torch.cuda.memory_stats(device)
        free, total = torch.cuda.mem_get_info(device)
        values.update(
            allocated=torch.cuda.memory_allocated(device),
            reserved=torch.cuda.memory_reserved(device),
            peak_allocated=torch.cuda.max_memory_allocated(device),
            peak_reserved=torch.cuda.max_memory_reserved(device),
            active_peak=stats.get("active_bytes.all.peak", 0),
            alloc_retries=stats.get("num_alloc_retries", 0),
            ooms=stats.get("num_ooms", 0),
            device_free=free,
            device_total=total,
        )
        torch.cuda.reset_peak_memory_stats(device)
    return values
