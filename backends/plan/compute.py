"""Training compute: FLOPs per token, time for a token budget, MFU, compute-optimal size.

FLOPs per trained token are about ``6 N`` (2 for the forward multiply-add of
each weight, 4 for the two backward matmuls; Kaplan et al. 2020, section
2.1), where N counts the weights used in a matmul per token: every block
weight plus, for a GPT, the output head (tied or not) but not the embedding
lookups. Attention scores add ``6 L S d`` per token with a causal mask
(``12 L S d`` without the causal halving, as PaLM and torchtitan count).

MFU = achieved model FLOP/s / peak FLOP/s of the GPUs. The peak table below
is dense (no sparsity) vendor figures; it is a plain dict, and
:func:`load_gpu_table` merges a user's TOML file over it
(``[gpus."My GPU"] bf16 = 1.2e14``...).

Chinchilla (Hoffmann et al. 2022): compute-optimal training uses about 20
tokens per parameter; for a budget of C FLOPs, N = sqrt(C / 120), D = 20 N.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.plan.errors import PlanError, positive_int, positive_number
from backends.plan.shapes import ModelLayout

CHINCHILLA_TOKENS_PER_PARAM = 20.0


@dataclasses.dataclass(frozen=True)
class GPU:
    """Peak dense FLOP/s by dtype ("tf32" is the fp32-input tensor-core path) and memory."""

    name: str
    memory_bytes: int
    bf16: float
    fp16: float
    fp32: float
    tf32: float | None = None

    def peak(self, dtype: str = "bf16") -> float:
        value = {"bf16": self.bf16, "fp16": self.fp16, "fp32": self.fp32,
                 "tf32": self.tf32 or self.fp32}.get(dtype)
        if value is None:
            raise PlanError(f"dtype must be bf16, fp16, fp32 or tf32, got {dtype!r}")
        return value


_GB = 10**9
# Dense peaks from the vendors' data sheets (SXM parts unless named).
GPUS: dict[str, GPU] = {
    g.name: g
    for g in (
        GPU("H200", 141 * _GB, 989e12, 989e12, 67e12, 494e12),
        GPU("H100 SXM", 80 * _GB, 989e12, 989e12, 67e12, 494e12),
        GPU("H100 PCIe", 80 * _GB, 756e12, 756e12, 51e12, 378e12),
        GPU("A100 80GB", 80 * _GB, 312e12, 312e12, 19.5e12, 156e12),
        GPU("A100 40GB", 40 * _GB, 312e12, 312e12, 19.5e12, 156e12),
        GPU("L40S", 48 * _GB, 362e12, 362e12, 91.6e12, 183e12),
        GPU("L4", 24 * _GB, 121e12, 121e12, 30.3e12, 60e12),
        GPU("A10", 24 * _GB, 125e12, 125e12, 31.2e12, 62.5e12),
        GPU("RTX 4090", 24 * _GB, 165e12, 165e12, 82.6e12, 82.6e12),
        GPU("RTX 3090", 24 * _GB, 71e12, 71e12, 35.6e12, 35.6e12),
        GPU("V100", 32 * _GB, 0.0, 125e12, 15.7e12, None),
        GPU("T4", 16 * _GB, 0.0, 65e12, 8.1e12, None),
    )
}


def load_gpu_table(path: str | Path | None = None,
                   base: Mapping[str, GPU] | None = None) -> dict[str, GPU]:
    """The GPU table, with the entries of the TOML file at ``path`` added or overriding.

    The file holds ``[gpus."<name>"]`` tables with ``memory_gb``, ``bf16``,
    ``fp16``, ``fp32`` (FLOP/s) and optionally ``tf32``.
    """
    table = dict(GPUS if base is None else base)
    if path is None:
        return table
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"the GPU table {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PlanError(f"cannot read the GPU table {path}: {exc}") from exc
    for name, row in dict(data.get("gpus", {})).items():
        try:
            table[name] = GPU(
                name=name,
                memory_bytes=int(float(row["memory_gb"]) * _GB),
                bf16=float(row.get("bf16", 0.0)),
                fp16=float(row.get("fp16", row.get("bf16", 0.0))),
                fp32=float(row["fp32"]),
                tf32=float(row["tf32"]) if "tf32" in row else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(
                f"{path}: [gpus.\"{name}\"] needs memory_gb and fp32 (and bf16/fp16) as numbers "
                f"({exc})"
            ) from exc
    return table


def match_gpu(device_name: str, table: Mapping[str, GPU] | None = None) -> GPU | None:
    """The table entry for a device name such as ``"NVIDIA H100 80GB HBM3"`` (None if unknown)."""
    table = GPUS if table is None else table
    text = device_name.upper().replace("-", " ")
    best: GPU | None = None
    for name, gpu in table.items():
        words = name.upper().split()
        if all(w in text for w in words if w not in ("SXM",)):
            if best is None or len(name) > len(best.name):
                best = gpu
    if best is not None and best.name.startswith("H100") and "PCIE" not in text:
        best = table.get("H100 SXM", best)
    return best


def matmul_params(layout: ModelLayout) -> int:
    """Weights used in a matmul for each token (the ``N`` of ``6 N``)."""
    n = layout.non_embedding_params
    if layout.gpt is not None and not any(t.name == "lm_head.weight" for t in layout.tensors):
        n += layout.gpt.vocab_size * layout.gpt.n_embd  # the tied head still multiplies
    return n


def flops_per_token(layout: ModelLayout, seq_len: int | None = None, causal: bool = True) -> float:
    """Training FLOPs per token: ``6 N`` plus attention (``6 L S d`` causal, else ``12 L S d``)."""
    flops = 6.0 * matmul_params(layout)
    g = layout.gpt
    if g is not None:
        s = positive_int("seq_len", seq_len or g.block_size)
        flops += (6.0 if causal else 12.0) * g.n_layer * s * g.n_embd
    return flops


def training_seconds(tokens: float, tokens_per_second: float) -> float:
    """Seconds to train on ``tokens`` at a throughput of ``tokens_per_second``."""
    return positive_number("tokens", tokens) / positive_number("tokens_per_second",
                                                                   tokens_per_second)


def tokens_per_second_at(flops_per_tok: float, peak_flops: float, n_gpus: int = 1,
                         mfu: float = 0.4) -> float:
    """Throughput if the GPUs sustain ``mfu`` of their peak."""
    positive_number("mfu", mfu)
    return mfu * positive_number("peak_flops", peak_flops) * positive_int("n_gpus", n_gpus) \
        / positive_number("flops_per_token", flops_per_tok)


def mfu(tokens_per_second: float, flops_per_tok: float, peak_flops: float, n_gpus: int = 1
        ) -> float:
    """Model FLOPs utilisation of a measured throughput (tokens/s over all GPUs)."""
    return positive_number("tokens_per_second", tokens_per_second) * flops_per_tok / (
        positive_number("peak_flops", peak_flops) * positive_int("n_gpus", n_gpus)
    )


def chinchilla_tokens(params: float) -> float:
    """Compute-optimal training tokens for ``params`` parameters (about 20 per parameter)."""
    return CHINCHILLA_TOKENS_PER_PARAM * positive_number("params", params)


def chinchilla_optimal(compute_flops: float) -> dict[str, float]:
    """Compute-optimal ``{"params", "tokens"}`` for a budget of FLOPs (C = 6 N D, D = 20 N)."""
    c = positive_number("compute_flops", compute_flops)
    n = math.sqrt(c / (6.0 * CHINCHILLA_TOKENS_PER_PARAM))
    return {"params": n, "tokens": CHINCHILLA_TOKENS_PER_PARAM * n}


def compute_summary(
    layout: ModelLayout,
    seq_len: int | None = None,
    tokens: float | None = None,
    tokens_per_second: float | None = None,
    gpu: GPU | None = None,
    n_gpus: int = 1,
    dtype: str = "bf16",
    assumed_mfu: float = 0.4,
) -> dict[str, Any]:
    """FLOPs per token, the Chinchilla token count, and time/MFU where inputs allow.

    With a measured ``tokens_per_second`` the MFU is computed from it; without,
    a throughput at ``assumed_mfu`` of the GPU's peak is assumed.
    """
    fpt = flops_per_token(layout, seq_len)
    budget = tokens if tokens is not None else chinchilla_tokens(layout.params)
    out: dict[str, Any] = {
        "flops_per_token": fpt,
        "matmul_params": matmul_params(layout),
        "chinchilla_tokens": chinchilla_tokens(layout.params),
        "tokens": budget,
        "total_flops": fpt * budget,
    }
    peak = gpu.peak(dtype) if gpu is not None else None
    if peak:
        out["gpu"] = gpu.name if gpu is not None else None
        out["peak_flops"] = peak * n_gpus
    tps = tokens_per_second
    if tps is None and peak:
        tps = tokens_per_second_at(fpt, peak, n_gpus, assumed_mfu)
        out["assumed_mfu"] = assumed_mfu
    if tps is not None:
        out["tokens_per_second"] = tps
        out["seconds"] = training_seconds(budget, tps)
        if peak and tokens_per_second is not None:
            out["mfu"] = mfu(tps, fpt, peak, n_gpus)
    return out
