"""A run's newest sample preview, and every run's metrics exported to one CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backends.runs import JsonlTail, RunDir

SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".txt")

# ---------------------------------------------------------------- samples


def latest_sample(run: RunDir) -> Path | None:
    """The newest image or text sample the trainer wrote into ``samples/``."""
    newest: tuple[float, str] | None = None
    path: Path | None = None
    try:
        entries = list(os.scandir(run.samples_dir))
    except OSError:
        return None
    for entry in entries:
        if entry.is_file() and entry.name.lower().endswith(SAMPLE_SUFFIXES):
            key = (entry.stat().st_mtime, entry.name)
            if newest is None or key > newest:
                newest, path = key, Path(entry.path)
    return path


# ---------------------------------------------------------------- export


def export_metrics_csv(runs: Sequence[RunDir], out_path: str | os.PathLike[str]) -> int:
    """Write every metric record of ``runs`` to one CSV file (a row per record); returns rows.

    Columns: ``run, rank, kind, step, t`` then every other field, sorted by
    name; a field a record lacks is left empty.
    """
    rows: list[dict[str, Any]] = []
    fields: set[str] = set()
    for run in runs:
        for rank, path in run.metrics_files().items():
            for record in JsonlTail(path).read_new():
                row = {"run": run.name, "rank": record.get("rank", rank)}
                row.update({k: v for k, v in record.items() if k not in ("rank", "v")})
                fields.update(k for k in row if k not in ("run", "rank", "kind", "step", "t"))
                rows.append(row)
    header = ["run", "rank", "kind", "step", "t", *sorted(fields)]
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_path)
    return len(rows)
