"""Benchmark: the workbench trainer against a plain hand-written torchrun loop (throughput ratio).

Both train the same GPT on the same character data with the same strategy
(DDP by default), the same processes and threads, under torchrun, and both on
the CPU with gloo (also on a GPU machine: the plain loop is written for CPU). The plain
loop is what one would write by hand: forward, backward, clip, AdamW step,
``loss.item()``. The workbench loop adds what it is for: per-rank metrics and
memory records every step, the loss all-reduce, the stop check, the LR
schedule. Throughput is measured the same way for both, from wall-clock time
over the steady steps (the first ``--warmup`` steps are dropped), and the
ratio workbench / plain is printed (goal: >= 0.97). Runs alternate A B A B and
each side keeps its best, which damps the noise of a shared machine.

    python bench/train_overhead.py                 # ddp, 2 processes
    python bench/train_overhead.py --nproc 1 --strategy single
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = {"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128}


def plain_worker(out: Path, steps: int, batch_size: int, strategy: str) -> None:
    """The hand-written loop (run under torchrun): no workbench code in the step."""
    import torch
    import torch.distributed as dist

    from backends.data.text import CharTokenizer, load_corpus
    from backends.models import GPT, GPTConfig

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if strategy != "single":
        dist.init_process_group("gloo")
    text = load_corpus("excerpt").text
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(tok), **MODEL))
    if strategy == "ddp":
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    local = batch_size // world
    T = MODEL["block_size"]
    g = torch.Generator().manual_seed(rank)
    stamps = []
    for _ in range(steps):
        starts = torch.randint(0, len(data) - T - 1, (local,), generator=g)
        rows = data[starts[:, None] + torch.arange(T + 1)]
        _, loss = model(rows[:, :-1], rows[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        stamps.append(time.time())
    if rank == 0:
        out.write_text(json.dumps(stamps))
    if dist.is_initialized():
        dist.destroy_process_group()


def _throughput(stamps: list[float], warmup: int, batch_size: int) -> float:
    steady = stamps[warmup:]
    return (len(steady) - 1) * batch_size / (steady[-1] - steady[0])


def run_plain(args: argparse.Namespace, tmp: Path) -> float:
    from backends.launch import free_port

    out = tmp / f"plain-{time.time_ns()}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if args.nproc > 1:
        env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(args.nproc),
               "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}",
               str(Path(__file__).resolve()), "--plain-worker", str(out),
               "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--strategy", args.strategy]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _throughput(json.loads(out.read_text()), args.warmup, args.batch_size)


def run_workbench(args: argparse.Namespace, tmp: Path) -> float:
    from backends import launch
    from backends.runs import create_run
    from backends.train.config import TrainConfig

    config = TrainConfig.from_dict({
        "name": "bench", "model": "gpt", "strategy": args.strategy, "nproc": args.nproc,
        "steps": args.steps, "batch_size": args.batch_size, "lr": 1e-3, "log_every": 1,
        "checkpoint_every": 0, "model_config": MODEL, "data": {"dataset": "excerpt"},
        # The plain loop runs on CPU with gloo; so does this side, even on a GPU machine
        # ("auto" would pick CUDA + NCCL there and compare two different machines).
        "device": "cpu",
    })
    run = create_run(tmp, "bench", config.to_dict())
    status = launch.wait(launch.start(run, config))
    if status != "finished":
        raise SystemExit(f"workbench run {run.path} ended {status}")
    records = [json.loads(line) for line in run.metrics_path(0).read_text().splitlines()]
    stamps = [r["t"] for r in records if r["kind"] == "train"]
    return _throughput(stamps, args.warmup, args.batch_size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--strategy", default="ddp", choices=("single", "ddp"))
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plain-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker is not None:
        plain_worker(args.plain_worker, args.steps, args.batch_size, args.strategy)
        return 0
    if args.strategy == "single":
        args.nproc = 1
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(run_plain(args, tmp))
            ours.append(run_workbench(args, tmp))
    print(f"GPT {MODEL}, {args.strategy} x{args.nproc}, batch {args.batch_size}, "
          f"{args.steps - args.warmup} timed steps, best of {args.repeats}")
    print(f"plain torchrun loop : {max(plain):8.1f} samples/s  (runs: {', '.join(f'{p:.1f}' for p in plain)})")
    print(f"workbench trainer   : {max(ours):8.1f} samples/s  (runs: {', '.join(f'{o:.1f}' for o in ours)})")
    print(f"ratio workbench / plain = {max(ours) / max(plain):.3f}  (goal >= 0.97)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
