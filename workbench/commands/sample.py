"""``workbench sample CHECKPOINT --seed S --n N --out grid.png``: a grid of samples from a GAN or VAE.

``workbench sample DIR --interpolate A.png B.png --steps N --out strip.png`` encodes the images
with a VAE (workbench or ``AutoencoderKL``) and writes the path between them as one strip.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.commands import CommandError

if TYPE_CHECKING:
    from backends.latent.model import LatentModel

VERB = "sample"
HELP = ("write a PNG grid of images sampled from a DCGAN or VAE checkpoint (or a demo name), "
        "or a strip interpolating between encoded images")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint folder, run folder or run name in the runs "
                        "folder (its newest checkpoint), or a demo name (dcgan-fashion, vae-fashion)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first cell; cell i uses seed+i")
    parser.add_argument("--n", type=int, default=16, help="number of images (default 16)")
    parser.add_argument("--cols", type=int, default=None, help="grid columns (default: square)")
    parser.add_argument("--out", type=Path, default=Path("grid.png"), help="PNG file to write")
    parser.add_argument("--truncation", type=float, default=None,
                        help="GAN: redraw latent entries beyond this magnitude (e.g. 1.5)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="VAE: scale of prior samples (default 1.0)")
    parser.add_argument("--scale", type=int, default=1, help="upscale each image by this factor")
    parser.add_argument("--latents", type=Path, default=None,
                        help="also save the latents with their seeds to this .npz file")
    parser.add_argument("--interpolate", nargs="+", type=Path, default=None, metavar="IMAGE",
                        help="VAE (workbench or AutoencoderKL): encode two or more images and "
                        "write the path between them as one strip")
    parser.add_argument("--steps", type=int, default=8,
                        help="with --interpolate: images in the strip, both ends included (default 8)")
    parser.add_argument("--method", choices=("lerp", "slerp"), default="lerp",
                        help="with --interpolate: straight (lerp, default: right for encoder means) "
                        "or spherical (slerp) path")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    model = _open_model(args)
    if args.interpolate is not None:
        return _interpolate(args, model)
    return _sample_grid(args, model)


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse out-of-range values before a model is opened, naming the flag and the fix."""
    if not 1 <= args.n <= 1024:
        raise CommandError(f"--n {args.n} is out of range; use 1 to 1024")
    if args.cols is not None and args.cols < 1:
        raise CommandError(f"--cols {args.cols} must be at least 1")
    if not 1 <= args.scale <= 32:
        raise CommandError(f"--scale {args.scale} is out of range; use 1 to 32")
    if args.out.suffix.lower() != ".png":
        raise CommandError(f"--out {args.out} does not end in .png")
    if args.truncation is not None and not (math.isfinite(args.truncation) and args.truncation > 0):
        raise CommandError(f"--truncation {args.truncation} must be a number > 0, e.g. 1.5")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise CommandError(f"--temperature {args.temperature} must be a number > 0, e.g. 1.0")
    if not (0 <= args.seed and args.seed + args.n <= 2**63):
        raise CommandError(
            f"--seed {args.seed} is out of range: seeds are whole numbers from 0 to 2**63 - {args.n + 1}"
        )
    if not args.out.resolve().parent.is_dir():
        raise CommandError(f"--out {args.out}: folder {args.out.parent} does not exist; create it first")
    if args.interpolate is not None:
        if len(args.interpolate) < 2:
            raise CommandError("--interpolate takes two or more images (A.png B.png ...)")
        if not 2 <= args.steps <= 256:
            raise CommandError(f"--steps {args.steps} is out of range; use 2 to 256")


def _open_model(args: argparse.Namespace) -> LatentModel:
    """The checkpoint, run folder, run name in the runs folder or demo name, opened."""
    from backends.latent.model import LatentModelError, open_latent_model

    target = args.checkpoint
    if not Path(target).exists() and (args.runs_dir / target).is_dir():
        target = args.runs_dir / target  # a run's name in the runs folder
    try:
        return open_latent_model(target)
    except LatentModelError as exc:
        raise CommandError(str(exc)) from exc


def _sample_grid(args: argparse.Namespace, model: LatentModel) -> int:
    """Draw one latent per seed, render them and write the grid (and the latents when asked)."""
    from backends.latent import export
    from backends.latent.render import render

    if args.truncation is not None and model.kind != "dcgan":
        raise CommandError("--truncation applies to a DCGAN; for a VAE use --temperature")
    if args.temperature != 1.0 and model.kind != "vae":
        raise CommandError("--temperature applies to a VAE; for a DCGAN use --truncation")
    seeds = list(range(args.seed, args.seed + args.n))
    z = model.latents_for_seeds(seeds, truncation=args.truncation, temperature=args.temperature)
    result = render(model, z)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        export.save_png(args.out, export.grid(result.images, args.cols, scale=args.scale))
        latents_path = (export.save_latents(args.latents, z, seeds, {"checkpoint": model.source})
                        if args.latents else None)
    except (export.ExportError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    summary = {
        "out": str(args.out),
        "checkpoint": model.source,
        "model": model.kind,
        "step": model.step,
        "seeds": seeds,
        "truncation": args.truncation,
        "temperature": args.temperature,
        "image_size": model.image_size,
        "latent_dim": model.latent_dim,
        "latents": str(latents_path) if latents_path else None,
        "seconds": round(result.seconds, 4),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.out} ({args.n} {model.kind} samples, seeds {seeds[0]}..{seeds[-1]})")
    return 0


def _interpolate(args: argparse.Namespace, model: LatentModel) -> int:
    """Encode the images, walk the path through their latents, write one strip."""
    import torch

    from backends.latent import export, interpolate, photos
    from backends.latent.render import render

    if not model.can_encode:
        raise CommandError(
            f"{model.name} has no encoder; --interpolate needs a VAE (workbench or AutoencoderKL)"
        )
    try:
        images = [photos.load_photo(p, model.image_size, model.channels) for p in args.interpolate]
        anchors = model.encode(torch.cat(images))
        z = interpolate.strip(anchors, args.steps, args.method)
        result = render(model, z)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        export.save_png(args.out, export.grid(result.images, args.steps, scale=args.scale))
    except (export.ExportError, interpolate.InterpolationError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    summary = {
        "out": str(args.out),
        "checkpoint": model.source,
        "model": model.kind,
        "images": [str(p) for p in args.interpolate],
        "steps": args.steps,
        "method": args.method,
        "image_size": model.image_size,
        "latent_dim": model.latent_dim,
        "seconds": round(result.seconds, 4),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.out} ({args.steps}-image {args.method} strip through "
              f"{len(args.interpolate)} images)")
    return 0
