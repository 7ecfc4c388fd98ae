"""A script that knows nothing of the workbench: it only writes TensorBoard logs.

The workbench reads its log folder as a run and follows it live: point the
Monitor at the folder above it (the runs folder, or File → Open), or write
into the runs folder itself, as here (``./runs`` is also SummaryWriter's
default parent).

    python examples/tensorboard_only.py --logdir runs/tb-sine --steps 300
    workbench runs --json          # lists it with "source": "tensorboard"
"""

import argparse
import math
import time

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logdir", default="runs/tb-sine")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to sleep per step")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    writer = SummaryWriter(log_dir=args.logdir)
    for step in range(1, args.steps + 1):
        x = torch.rand(64, 1) * 2 * math.pi - math.pi
        loss = nn.functional.mse_loss(model(x), torch.sin(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step, new_style=True)
        if step % 50 == 0:
            with torch.no_grad():
                grid = torch.linspace(-math.pi, math.pi, 64).unsqueeze(1)
                error = (model(grid) - torch.sin(grid)).abs().T  # 1 x 64
            writer.add_scalar("eval/max_error", error.max().item(), step)
            writer.add_image("fit_error", error.expand(16, 64).clamp(0, 1), step, dataformats="HW")
        time.sleep(args.delay)
    writer.close()


if __name__ == "__main__":
    main()
