"""A plain torchrun DDP script, watched by the workbench through its client.

Learns y = sin(x) with a small MLP on every rank's shard of the data. Two
lines make it a workbench run: ``client.init`` and ``run.log``; two more make
Stop graceful: ``run.should_stop()`` and ``run.checkpoint``.

    torchrun --nproc-per-node 2 examples/ddp_train.py --steps 200     # CPU is fine
    workbench train --script examples/ddp_train.py --set strategy=ddp --set nproc=2 -- --steps 200

Started by plain torchrun it creates its run under ./runs (or
$WORKBENCH_RUNS_DIR); launched by the workbench it writes into the run folder
it is given. ``--fail-on-rank R`` raises on rank R at step 5 (to see a failure report).
"""

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from backends import client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fail-on-rank", type=int, default=None)
    args = parser.parse_args()

    # torchrun sets RANK and WORLD_SIZE; plain `python` gives one process.
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0

    run = client.init("ddp-sine", steps=args.steps, config=vars(args))

    torch.manual_seed(0)  # the same initial weights on every rank
    model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    if distributed:
        model = DDP(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    run.watch(model, optimizer)  # parameter, gradient and optimizer bytes in the memory plots

    generator = torch.Generator().manual_seed(1 + rank)  # each rank draws its own batches
    for step in range(1, args.steps + 1):
        x = torch.rand(args.batch_size, 1, generator=generator) * 6.28 - 3.14
        loss = nn.functional.mse_loss(model(x), torch.sin(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        if step == 5 and rank == args.fail_on_rank:
            raise RuntimeError(f"rank {rank} gave up on purpose")
        if step % 5 == 0 or step == 1:
            run.log(step, loss=loss.item(), lr=args.lr)
        if run.should_stop():  # every rank gets the same answer, so all leave at this step
            if rank == 0:  # DDP keeps the replicas equal: one copy is enough
                path = os.path.join(run.path, "checkpoints", f"step_{step}.pt")
                torch.save({"step": step, "model": model.state_dict()}, path)
                run.checkpoint(step, path)
            break

    run.finish()  # "finished", or "stopped" after should_stop() said so
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
