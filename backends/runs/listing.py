"""The runs list: one line per run folder (status, model, last step and loss), read cheaply."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.runs.folder import CONFIG_FILE, EVENTS_FILE, RunDir, RunDirError, read_config
from backends.runs.records import read_events, status_from_events


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs list."""

    name: str
    path: Path
    status: str
    created: float | None
    model: str | None = None
    strategy: str | None = None
    world_size: int | None = None
    last_step: int | None = None
    last_loss: float | None = None
    problem: str | None = None  # why the folder is unreadable, or what is wrong in it
    reason: str | None = None  # why the run is in its state (which rank failed, ...)
    source: str = "workbench"  # or "tensorboard": a folder of event files (backends.tensorboard)


def summarize_run(run: RunDir) -> RunSummary:
    """Status, config essentials and the last loss of one run, read cheaply.

    A folder that cannot be read (a config that is not UTF-8 or not TOML, an
    events log that cannot be opened) gives status ``unreadable`` with the
    reason, never an exception: one broken folder must not hide the others.
    """
    try:
        events = read_events(run)
    except OSError as exc:
        return RunSummary(run.name, run.path, "unreadable", None,
                          problem=f"{run.events_path} cannot be read ({exc.strerror or exc})")
    created = next((e.get("t") for e in events if e.get("kind") == "created"), None)
    if not isinstance(created, int | float) or isinstance(created, bool):
        created = None  # a malformed event: the run still lists, without its date
    status = status_from_events(events)
    try:
        config = read_config(run)
    except RunDirError as exc:
        return RunSummary(run.name, run.path, "unreadable", created, problem=str(exc))
    last = last_record(run.metrics_path(0), lambda r: "loss" in r)
    nproc, nnodes = config.get("nproc", 1), config.get("nnodes", 1)
    world = nproc * nnodes if isinstance(nproc, int) and isinstance(nnodes, int) else None
    return RunSummary(
        name=run.name,
        path=run.path,
        status=status,
        created=created,
        model=_config_text(config, "model") or _script_label(config),
        strategy=_config_text(config, "strategy"),
        world_size=world,
        last_step=_number(last.get("step")) if last else None,
        last_loss=_number(last.get("loss")) if last else None,
    )


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run folder under ``runs_dir`` (newest first); other folders are ignored."""
    runs = Path(runs_dir).expanduser()
    if not runs.is_dir():
        return []
    found = [
        summarize_run(RunDir(entry))
        for entry in runs.iterdir()
        if entry.is_dir() and ((entry / CONFIG_FILE).exists() or (entry / EVENTS_FILE).exists())
    ]
    from backends.tensorboard import find_runs as find_tensorboard_runs

    found += find_tensorboard_runs(runs)  # TensorBoard log folders are runs too
    return sorted(found, key=lambda s: s.created or 0.0, reverse=True)


def _script_label(config: Mapping[str, Any]) -> str | None:
    """A script run's "model" in the list: its file or module name."""
    script, module = config.get("script"), config.get("module")
    if isinstance(script, str) and script:
        return Path(script).name
    return module if isinstance(module, str) and module else None


def _config_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, Mapping):  # nested sections name themselves with "name"
        value = value.get("name")
    return None if value is None else str(value)


def last_record(path: Path, wanted: Any, window: int = 65536) -> dict[str, Any] | None:
    """The last record of a JSON Lines file that satisfies ``wanted``, reading its tail only."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - window))
            lines = f.read().split(b"\n")
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and wanted(record):
            return record
    return None
