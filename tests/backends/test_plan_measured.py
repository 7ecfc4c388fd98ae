"""The planner's per-rank bytes against what real 2-process CPU runs hold (DDP, FSDP, TP)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket

import pytest

from backends.plan import TrainSetup, estimate_memory, gpt_layout

GPT_CONFIG = {"vocab_size": 64, "block_size": 32, "n_layer": 2, "n_head": 4, "n_embd": 64}
BATCH = 2
STRATEGIES = ("ddp", "fsdp", "tp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch
    import torch.distributed as dist

    from backends.models import GPT, GPTConfig
    from backends.parallel import STRATEGIES as APPLY
    from backends.parallel import build_mesh, parallel_dims
    from backends.plan.measure import local_state_bytes, trace_activation_bytes

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    results = {}
    try:
        for strategy in STRATEGIES:
            torch.manual_seed(0)
            model = GPT(GPTConfig(**GPT_CONFIG))
            mesh = build_mesh(parallel_dims(strategy, world), "cpu")
            run = APPLY[strategy].apply(model, mesh, torch.device("cpu"))
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
            # Same tokens on every rank: TP ranks must see the same batch.
            idx = torch.randint(0, GPT_CONFIG["vocab_size"], (BATCH, GPT_CONFIG["block_size"]),
                                generator=torch.Generator().manual_seed(1))
            saved = {}

            def forward(idx=idx, run=run, saved=saved):
                saved["out"] = run(idx, idx)
                return saved["out"]

            acts = trace_activation_bytes(forward, model.parameters())
            saved["out"][1].backward()
            optimizer.step()
            results[strategy] = {**local_state_bytes(model, optimizer), "activations": acts}
            dist.barrier()
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out_dir, f"rank_{rank}.json"), "w") as f:
        json.dump(results, f)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("measured")
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, str(out))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [json.loads((out / f"rank_{r}.json").read_text()) for r in range(2)]


def _predicted(strategy: str):
    setup = TrainSetup(strategy=strategy, world_size=2, batch_size=BATCH, precision="fp32")
    return estimate_memory(gpt_layout(GPT_CONFIG), setup)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_predicted_model_state_matches_the_ranks(measured, strategy):
    predicted = _predicted(strategy)
    for rank, result in enumerate(measured):
        got = result[strategy]
        for part in ("params", "grads", "optimizer"):
            want = getattr(predicted, part)
            assert abs(got[part] - want) <= 0.10 * want, (strategy, rank, part, got[part], want)


@pytest.mark.slow
def test_fsdp_holds_about_half_of_ddp_at_two_ranks(measured):
    for result in measured:
        ratio = result["fsdp"]["total"] / result["ddp"]["total"]
        assert 0.45 <= ratio <= 0.6, ratio


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_predicted_activations_match_what_autograd_saves(measured, strategy):
    want = _predicted(strategy).activations
    for result in measured:
        got = result[strategy]["activations"]
        assert abs(got - want) <= 0.10 * want, (strategy, got, want)
