"""Regenerate the latent studio's demo checkpoints in ``resources/demo/``.

Trains a small DCGAN and a small VAE on the shipped Fashion-MNIST subset with
the workbench's own trainer (``python -m backends.train``, one process), then
copies each final checkpoint's ``model.safetensors`` and ``meta.json`` into
``resources/demo/dcgan-fashion`` and ``resources/demo/vae-fashion`` (the
optimizer state is left out), and adds what the studio needs on first start:

* ``concepts.npz``: the pixel classifier trained on the same images, which
  names feature-brush concepts and labels GAN samples for class directions;
* ``unit_stats.npz``: each brush layer's per-unit 99th-percentile activation
  and per-class unit rankings, from 2,048 prior samples.

Run from the repository root (about 10 minutes on two CPU cores)::

    python tools/make_demo_latent.py            # both
    python tools/make_demo_latent.py --only vae --steps 500   # a quick try
    python tools/make_demo_latent.py --concepts-only         # statistics only
    python tools/make_demo_latent.py --stats-only            # keep the classifier too

Training is seeded, so a rerun on the same machine and library versions
rebuilds the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "resources" / "demo"
DATASET = "fashion-mnist-subset"

# Both demos take 32-dimensional latents, so the studio can show one z through
# the GAN and the VAE side by side.
RECIPES = {
    "dcgan-fashion": {
        "model": "dcgan",
        "model_config": {"nz": 32, "ngf": 32, "ndf": 32},
        "steps": 3000,
        "batch_size": 64,
        "lr": 2e-4,
        "min_lr_ratio": 0.5,
        "beta1": 0.5,
        "beta2": 0.999,
        "weight_decay": 0.0,
        "grad_clip": 0.0,
        "gan_loss": "non_saturating",
    },
    "vae-fashion": {
        "model": "vae",
        "model_config": {"latent_dim": 32, "hidden": 32, "beta": 1.0},
        "steps": 2000,
        "batch_size": 64,
        "lr": 2e-3,
        "weight_decay": 0.0,
        "grad_clip": 5.0,
    },
}


def train(name: str, recipe: dict, runs_dir: Path, steps: int | None) -> Path:
    """Train one demo with the project's trainer; returns its final checkpoint folder."""
    from backends.checkpoint import list_checkpoints
    from backends.runs import create_run
    from backends.train.config import TrainConfig

    config = TrainConfig.from_dict({
        **recipe,
        "name": name,
        "steps": steps or recipe["steps"],
        "strategy": "single",
        "nproc": 1,
        "device": "cpu",
        "seed": 0,
        "log_every": 50,
        "checkpoint_every": 0,
        "keep_checkpoints": 1,
        "data": {"dataset": DATASET, "val_fraction": 0.0},
    })
    run = create_run(runs_dir, name, config.to_dict())
    # One thread: on a shared machine OpenMP threads that spin-wait for each other cost more than they give.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.time()
    subprocess.run([sys.executable, "-m", "backends.train", "--run-dir", str(run.path)], check=True, env=env)
    print(f"{name}: trained {config.steps} steps in {time.time() - start:.0f} s", flush=True)
    checkpoints = list_checkpoints(run.path)
    if not checkpoints:
        raise SystemExit(f"{name}: the trainer wrote no checkpoint in {run.path}")
    return checkpoints[-1]


def package(name: str, checkpoint: Path, recipe: dict) -> Path:
    """Copy weights and meta into resources/demo/<name> and add concepts and unit statistics."""
    from backends.data.images import load_images

    out = DEMO_DIR / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copyfile(checkpoint / "model.safetensors", out / "model.safetensors")
    meta = json.loads((checkpoint / "meta.json").read_text())
    meta["class_names"] = list(load_images(DATASET).class_names)
    meta["demo"] = {"name": name, "recipe": recipe, "made_by": "tools/make_demo_latent.py"}
    meta.pop("train_config", None)  # holds the temporary run path; the recipe says the rest
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    add_concepts(out)
    return out


def add_concepts(out: Path, keep_classifier: bool = False) -> None:
    """Train the concept classifier (unless kept) and compute unit statistics for the demo in ``out``."""
    from backends.data.images import load_images
    from backends.latent import analysis, concepts
    from backends.latent.model import open_latent_model

    data = load_images(DATASET)
    name = out.name
    model = open_latent_model(out)
    if keep_classifier:
        classifier = concepts.ConceptClassifier.load(out / analysis.CLASSIFIER_FILE)
    else:
        images = analysis.dataset_for(model, limit=len(data))
        classifier = concepts.train_concept_classifier(
            images.images, images.labels, images.class_names
        )
        print(f"{name}: concept classifier accuracy on its training images "
              f"{classifier.accuracy(images.images, images.labels):.3f}", flush=True)
        classifier.save(out / analysis.CLASSIFIER_FILE)
    stats = concepts.compute_unit_statistics(model, classifier, samples=2048, seed=0)
    for layer in stats.layers:
        print(f"{name}: {layer} offers {', '.join(stats.offered(layer))}", flush=True)
    stats.save(out / analysis.STATS_FILE)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{name}: wrote {out} ({size / 1e6:.2f} MB)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["dcgan", "vae"], help="rebuild just one of the two")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument("--concepts-only", action="store_true",
                        help="keep the shipped weights; only recompute concepts.npz and unit_stats.npz")
    parser.add_argument("--keep-runs", type=Path, default=None,
                        help="keep the training runs in this folder (default: a temporary one)")
    parser.add_argument("--stats-only", action="store_true",
                        help="keep weights and concepts.npz; only recompute unit_stats.npz")
    args = parser.parse_args(argv)
    names = [n for n in RECIPES if args.only is None or n.startswith(args.only)]
    if args.concepts_only or args.stats_only:
        for name in names:
            add_concepts(DEMO_DIR / name, keep_classifier=args.stats_only)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = args.keep_runs or Path(tmp)
        for name in names:
            checkpoint = train(name, RECIPES[name], runs_dir, args.steps)
            package(name, checkpoint, RECIPES[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
