"""The models a column may pick: shipped demos, GPT runs in the runs folder, folders opened by hand.

Reading the runs folder means a directory listing and a ``meta.json`` per
run, which on a large or network folder is slow: :func:`find_gpt_runs` is a
plain function the panel runs on a worker, and :class:`ModelList` keeps what
it found for the GUI thread to offer.
"""

from __future__ import annotations

import json
from pathlib import Path


def find_gpt_runs(runs_dir: Path, progress=None) -> list[Path]:
    """Runs in ``runs_dir`` whose latest checkpoint is a GPT (meta.json read only)."""
    found: list[Path] = []
    if not runs_dir.is_dir():
        return found
    runs = sorted(runs_dir.iterdir())
    for n, run in enumerate(runs):
        if progress is not None:
            progress(n / len(runs))  # a newer listing cancels this one here
        checkpoints = run / "checkpoints"
        if not checkpoints.is_dir():
            continue
        metas = sorted(checkpoints.glob("step_*/meta.json"))
        if not metas:
            continue
        try:
            if json.loads(metas[-1].read_text(encoding="utf-8")).get("model") == "gpt":
                found.append(run)
        except (OSError, ValueError):
            continue
    return found


class ModelList:
    """(label, key) of every model on offer, from the last runs listing and the folders added."""

    def __init__(self) -> None:
        self.runs: list[Path] = []  # GPT runs, as the last find_gpt_runs saw them
        self.extra: list[str] = []  # checkpoints, runs or GPT-2 folders opened by hand

    def add(self, path: str | Path) -> str:
        """Offer a folder picked by hand; returns its key."""
        key = str(path)
        if key not in self.extra:
            self.extra.append(key)
        return key

    def choices(self) -> list[tuple[str, str]]:
        """(label, key) of every model on offer: demos, GPT runs, folders opened by hand."""
        from backends.text.models import demo_names

        choices = [(f"demo: {name}", name) for name in demo_names()]
        for run in self.runs:
            choices.append((f"run: {run.name}", str(run)))
        for path in self.extra:
            choices.append((Path(path).name, path))
        return choices
