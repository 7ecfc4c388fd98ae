"""Communication per step and compute: the textbook ratios, and the numbers a person checks."""

from __future__ import annotations

import pytest

from backends.plan import (
    GPUS,
    PlanError,
    TrainSetup,
    chinchilla_optimal,
    chinchilla_tokens,
    estimate_comms,
    flops_per_token,
    gpt_layout,
    link_bandwidth,
    match_gpu,
    mfu,
)
from backends.plan.compute import load_gpu_table

GPT = {"vocab_size": 1000, "block_size": 128, "n_layer": 4, "n_head": 8, "n_embd": 256}


def test_ddp_moves_twice_and_fsdp_three_times_the_weights():
    layout = gpt_layout(GPT)
    weights = layout.params * 4
    n = 64  # many ranks: (n - 1) / n is close to 1
    ddp = estimate_comms(layout, TrainSetup(strategy="ddp", world_size=n)).bytes_per_step
    fsdp = estimate_comms(layout, TrainSetup(strategy="fsdp", world_size=n)).bytes_per_step
    grad_op = estimate_comms(layout, TrainSetup(strategy="fsdp_grad_op", world_size=n))
    assert ddp / weights == pytest.approx(2 * 63 / 64)
    assert fsdp / weights == pytest.approx(3 * 63 / 64)
    assert grad_op.bytes_per_step / weights == pytest.approx(2 * 63 / 64)


def test_tp_all_reduces_four_activations_per_block():
    layout = gpt_layout(GPT)
    comms = estimate_comms(layout, TrainSetup(strategy="tp", world_size=2, batch_size=3))
    activation = 3 * 128 * 256 * 4
    # Ring all-reduce over 2 ranks sends the payload once: 4 per block.
    assert comms.bytes_per_step == 4 * GPT["n_layer"] * activation
    assert estimate_comms(layout, TrainSetup()).bytes_per_step == 0


def test_seconds_at_a_link_preset():
    layout = gpt_layout(GPT)
    comms = estimate_comms(layout, TrainSetup(strategy="ddp", world_size=2))
    assert comms.seconds(link_bandwidth("pcie4")) == pytest.approx(comms.bytes_per_step / 32e9)
    assert comms.seconds(link_bandwidth("nvlink4")) < comms.seconds(link_bandwidth("pcie4"))
    with pytest.raises(PlanError, match="link must be one of"):
        link_bandwidth("carrier-pigeon")
    with pytest.raises(PlanError, match="bandwidth"):
        comms.seconds(0)


def test_flops_per_token_is_six_n_plus_attention():
    layout = gpt_layout(GPT)
    d, layers, s, v = 256, 4, 128, 1000
    n = layout.non_embedding_params + v * d  # the tied head still multiplies
    assert flops_per_token(layout) == 6 * n + 6 * layers * s * d
    assert flops_per_token(layout, causal=False) == 6 * n + 12 * layers * s * d


def test_mfu_and_chinchilla():
    # 1e5 tokens/s at 6e9 FLOPs/token on one 989 TFLOP/s GPU: 60.7 %.
    assert mfu(1e5, 6e9, 989e12) == pytest.approx(6e14 / 989e12)
    assert chinchilla_tokens(70e9) == pytest.approx(1.4e12)
    opt = chinchilla_optimal(5.76e23)  # Chinchilla's own budget: about 70B params, 1.4T tokens
    assert opt["params"] == pytest.approx(69.3e9, rel=0.02)
    assert opt["tokens"] == pytest.approx(20 * opt["params"])


def test_gpu_names_as_devices_report_them():
    assert match_gpu("NVIDIA H100 80GB HBM3").name == "H100 SXM"
    assert match_gpu("NVIDIA H100 PCIe").name == "H100 PCIe"
    assert match_gpu("NVIDIA A100-SXM4-80GB").name == "A100 80GB"
    assert match_gpu("NVIDIA GeForce RTX 4090").name == "RTX 4090"
    assert match_gpu("NVIDIA L40S").name == "L40S"
    assert match_gpu("Some Unknown Accelerator") is None
    assert GPUS["H100 SXM"].peak("bf16") == 989e12


def test_gpu_table_is_editable(tmp_path):
    path = tmp_path / "gpus.toml"
    path.write_text('[gpus."Lab GPU"]\nmemory_gb = 48\nbf16 = 2e14\nfp32 = 5e13\n')
    table = load_gpu_table(path)
    assert table["Lab GPU"].bf16 == 2e14 and "H100 SXM" in table
    path.write_text('[gpus."Broken"]\nbf16 = 1\n')
    with pytest.raises(PlanError, match="memory_gb"):
        load_gpu_table(path)
