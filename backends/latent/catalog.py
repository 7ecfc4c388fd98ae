"""Finding latent-studio checkpoints: shipped demos, run folders, checkpoint folders.

Plain files and JSON only (no torch), so a panel can list what it may open
without waiting for torch to load; :mod:`backends.latent.model` opens them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

LATENT_KINDS = ("dcgan", "vae")
_STEP_DIR = re.compile(r"^step_(\d+)$")


class LatentModelError(ValueError):
    """A checkpoint the studio cannot open, or a request the model cannot serve."""


def demo_names() -> list[str]:
    """Names of the demo checkpoints shipped with the workbench (``dcgan-*``, ``vae-*``)."""
    from resources import resource_path

    demo = resource_path("demo")
    if not demo.is_dir():
        return []
    return sorted(
        d.name
        for d in demo.iterdir()
        if d.is_dir() and d.name.split("-")[0] in LATENT_KINDS and (d / "meta.json").is_file()
    )


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a checkpoint folder, a run folder or a demo name."""
    text = str(path)
    candidate = Path(text).expanduser()
    if not candidate.exists() and text in demo_names():
        from resources import resource_path

        candidate = Path(str(resource_path("demo", text)))
    if not candidate.exists():
        demos = ", ".join(demo_names()) or "none installed"
        raise LatentModelError(
            f"{text}: no such checkpoint; give a checkpoint folder, a run folder or a demo name ({demos})"
        )
    if candidate.is_file():
        candidate = candidate.parent  # a model.safetensors or meta.json inside the folder
    if (candidate / "meta.json").is_file():
        return candidate
    steps = candidate / "checkpoints"
    if steps.is_dir():
        found = sorted(
            (int(m.group(1)), d)
            for d in steps.iterdir()
            if (m := _STEP_DIR.match(d.name)) and (d / "meta.json").is_file()
        )
        if found:
            return found[-1][1]
        raise LatentModelError(f"{candidate}: the run has no checkpoint yet; wait for one or pick another run")
    raise LatentModelError(
        f"{candidate}: not a checkpoint (no meta.json) nor an AutoencoderKL folder (no config.json); "
        "pick a checkpoints/step_* folder, a run folder or a diffusers VAE folder"
    )


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentModelError(f"{folder / 'meta.json'}: unreadable ({exc}); the checkpoint is damaged") from exc
    if not isinstance(meta, dict):
        raise LatentModelError(f"{folder / 'meta.json'}: not a JSON object; the checkpoint is damaged")
    return meta


def checkpoint_kind(path: str | Path) -> str | None:
    """The ``model`` named in a checkpoint's meta.json, or None when it is not a readable checkpoint."""
    try:
        return str(_read_meta(resolve_checkpoint(path)).get("model"))
    except LatentModelError:
        return None
