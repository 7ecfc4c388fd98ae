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


def plot(target: torch.Tensor, fit: torch.Tensor, height: int = 64) -> torch.Tensor:
    """A small picture of the target (grey) and the fit (white) as a height x len image."""
    image = torch.zeros(height, len(target))
    columns = torch.arange(len(target))
    for curve, shade in ((target, 0.5), (fit, 1.0)):
        rows = ((1 - (curve.clamp(-1.2, 1.2) + 1.2) / 2.4) * (height - 1)).round().long()
        image[rows, columns] = shade
    return image


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
                x = torch.linspace(-math.pi, math.pi, 128).unsqueeze(1)
                fit, target = model(x).squeeze(1), torch.sin(x).squeeze(1)
            writer.add_scalar("eval/max_error", (fit - target).abs().max().item(), step)
            writer.add_image("fit", plot(target, fit), step, dataformats="HW")
        time.sleep(args.delay)
    writer.close()


if __name__ == "__main__":
    main()
