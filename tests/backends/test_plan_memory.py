"""Per-rank memory: the ZeRO paper's numbers, FSDP in flight, activations against autograd."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from backends.models import GPT, GPTConfig
from backends.plan import PlanError, TrainSetup, estimate_memory, gpt_layout, zero_model_state_bytes
from backends.plan.measure import trace_activation_bytes
from backends.plan.memory import fsdp_peak_bytes
from backends.plan.shapes import ModelLayout, ParamTensor

GPT_SMALL = {"vocab_size": 100, "block_size": 64, "n_layer": 2, "n_head": 4, "n_embd": 64}


def test_zero_paper_figure_1():
    # Psi = 7.5B, N = 64, K = 12: 120, 31.4, 16.6, 1.9 GB.
    psi, n = 7.5e9, 64
    got = [zero_model_state_bytes(psi, n, stage) / 1e9 for stage in range(4)]
    assert got == pytest.approx([120, 31.4, 16.6, 1.875], abs=0.05)


def _flat_layout(psi: int, units: int = 1) -> ModelLayout:
    # psi parameters split into equal FSDP units of 64-row tensors.
    per = psi // units
    return ModelLayout("test", tuple(
        ParamTensor(f"u{i}.w", (64, per // 64), unit=f"u{i}") for i in range(units)))


def test_strategies_reproduce_zero_model_states():
    layout = _flat_layout(64 * 1_000_000)
    psi = layout.params
    base = TrainSetup(precision="fp16-master", batch_size=1)
    ddp = estimate_memory(layout, dataclasses.replace(base, strategy="ddp", world_size=64),
                          activation_bytes=0)
    fsdp = estimate_memory(layout, dataclasses.replace(base, strategy="fsdp", world_size=64),
                           activation_bytes=0)
    # Adam's per-tensor step counters are the only extra: 4 bytes per tensor.
    assert ddp.model_state == zero_model_state_bytes(psi, 64, 0) + 4
    assert fsdp.model_state == zero_model_state_bytes(psi, 64, 3) + 4


def test_fsdp_two_layers_on_two_ranks():
    w1, w2 = 1000, 600
    # Both halves always; the larger unit whole while it computes.
    assert fsdp_peak_bytes([w1, w2], 2, prefetch=0, activations=50) == w1 / 2 + w2 / 2 + w1 + 50
    # N ranks, many units, one prefetched: the largest adjacent pair is in flight.
    units = [400, 400, 900, 800, 100]
    assert fsdp_peak_bytes(units, 4, prefetch=1) == sum(units) / 4 + 900 + 800


def test_fsdp_holds_about_half_of_ddp_at_two_ranks():
    layout = gpt_layout(GPT_SMALL)
    ddp = estimate_memory(layout, TrainSetup(strategy="ddp", world_size=2))
    fsdp = estimate_memory(layout, TrainSetup(strategy="fsdp", world_size=2))
    assert 0.49 <= fsdp.model_state / ddp.model_state <= 0.55


def test_sharding_order_single_ddp_fsdp_for_a_large_model():
    layout = gpt_layout({"vocab_size": 50257, "block_size": 2048, "n_layer": 24, "n_head": 16,
                         "n_embd": 2048})
    base = TrainSetup(batch_size=1, precision="bf16-mixed", world_size=8)
    totals = {
        s: estimate_memory(layout, dataclasses.replace(
            base, strategy=s, world_size=1 if s == "single" else 8,
            tp=2 if s == "fsdp_tp" else 8 if s == "tp" else 1)).model_state
        for s in ("single", "ddp", "fsdp", "tp", "fsdp_tp")
    }
    assert totals["single"] == totals["ddp"]
    assert totals["fsdp"] < totals["fsdp_tp"] < totals["tp"] < totals["ddp"]


def test_checkpointing_keeps_only_block_inputs():
    layout = gpt_layout({**GPT_SMALL, "n_layer": 8})
    plain = estimate_memory(layout, TrainSetup(batch_size=4))
    ckpt = estimate_memory(layout, TrainSetup(batch_size=4, activation_checkpointing=True))
    assert ckpt.activations < plain.activations / 3
    assert ckpt.details["act_recompute"] > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed", "bf16-true"])
@pytest.mark.parametrize("batch", [3])
def test_gpt_activations_match_what_autograd_saves(precision, batch):
    torch.manual_seed(0)
    config = GPTConfig(**GPT_SMALL)
    model = GPT(config)
    if precision == "bf16-true":
        model = model.to(torch.bfloat16)
    idx = torch.randint(0, config.vocab_size, (batch, config.block_size))
    targets = torch.randint(0, config.vocab_size, (batch, config.block_size))

    def forward():
        if precision == "bf16-mixed":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(idx, targets)
        return model(idx, targets)

    measured = trace_activation_bytes(forward, model.parameters())
    predicted = estimate_memory(gpt_layout(config),
                                TrainSetup(batch_size=batch, precision=precision)).activations
    assert abs(predicted - measured) <= 0.03 * measured, (measured, predicted)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (TrainSetup(strategy="tp", world_size=3), "must divide the number of heads"),
        (TrainSetup(strategy="fsdp_tp", world_size=6, tp=4), "multiple of tp"),
        (TrainSetup(strategy="single", world_size=2), "world_size"),
        (TrainSetup(strategy="ddp", world_size=0), "world_size"),
        (TrainSetup(strategy="ddp", world_size=2, batch_size=-1), "batch_size"),
        (TrainSetup(strategy="ddp", world_size=2, tp=2), "tp=2"),
        (TrainSetup(strategy="zero9"), "strategy"),
        (TrainSetup(precision="fp8"), "precision"),
        (TrainSetup(seq_len=65), "seq_len"),
    ],
)
def test_bad_setups_say_what_to_change(setup, needle):
    with pytest.raises(PlanError, match=needle):
        estimate_memory(gpt_layout(GPT_SMALL), setup)


def test_tp_on_a_model_without_heads_is_refused():
    from backends.plan import model_layout

    layout = model_layout("vae", {})
    with pytest.raises(PlanError, match="use ddp or fsdp"):
        estimate_memory(layout, TrainSetup(strategy="tp", world_size=2), activation_bytes=0)
