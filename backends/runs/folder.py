"""The run folder: its layout, names, creation, the config file, and free space.

See :mod:`backends.runs` for what a run folder holds.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from backends.runs.records import TERMINAL_EVENTS, record_event

SCHEMA_VERSION = 1
DEFAULT_RUNS_DIR = Path("runs")

CONFIG_FILE = "config.toml"
EVENTS_FILE = "events.jsonl"
RUN_INFO_FILE = "run.json"
METRICS_DIR = "metrics"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
SAMPLES_DIR = "samples"

ENDED = TERMINAL_EVENTS  # the states a run ends in
# A new run needs room for its config, logs and first checkpoint; below this, refuse up front.
MIN_FREE_BYTES = 64 * 1024 * 1024
_RANK_FILE = re.compile(r"^rank_(\d+)\.jsonl$")
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# One read never pulls more than this into memory; a 1 GB log is read in slices.

class RunDirError(ValueError):
    """A run folder or runs folder that cannot be used; the message says how to fix it."""


def disk_full_message(where: Path, exc: OSError | None = None) -> str:
    """One line for ENOSPC: what is full and what to do."""
    import errno

    free = ""
    try:
        free = f" ({shutil.disk_usage(where).free / 2**20:.0f} MiB free)"
    except OSError:
        pass
    if exc is not None and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write in {where}: {exc.strerror or exc}"
    return (f"disk full: no space left on the device of {where}{free}; free some space or "
            "choose another runs folder (--runs-dir, or Settings)")


def check_free_space(runs_dir: Path, need: int = MIN_FREE_BYTES) -> None:
    """Refuse, before anything is created, when the runs folder's disk has no room."""
    try:
        free = shutil.disk_usage(runs_dir).free
    except OSError:
        return
    if free < need:
        raise RunDirError(disk_full_message(runs_dir))


# ---------------------------------------------------------------- the folder


@dataclass(frozen=True)
class RunDir:
    """Paths of one run folder. Holds no state beyond the path."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def run_info_path(self) -> Path:
        return self.path / RUN_INFO_FILE

    @property
    def metrics_dir(self) -> Path:
        return self.path / METRICS_DIR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def logs_dir(self) -> Path:
        return self.path / LOGS_DIR

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    def metrics_path(self, rank: int) -> Path:
        return self.metrics_dir / f"rank_{int(rank)}.jsonl"

    def metrics_files(self) -> dict[int, Path]:
        """The per-rank metrics files that exist now, by rank."""
        found: dict[int, Path] = {}
        if self.metrics_dir.is_dir():
            for entry in self.metrics_dir.iterdir():
                match = _RANK_FILE.match(entry.name)
                if match:
                    found[int(match.group(1))] = entry
        return dict(sorted(found.items()))


def ensure_runs_dir(path: str | os.PathLike[str]) -> Path:
    """Create the runs folder if needed and check that runs can be written there."""
    runs = Path(path).expanduser()
    if runs.exists() and not runs.is_dir():
        raise RunDirError(
            f"runs folder {runs} is a file, not a folder: choose another with --runs-dir "
            "or in Settings"
        )
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(
            f"cannot create runs folder {runs} ({exc.strerror}): choose another with "
            "--runs-dir or in Settings"
        ) from exc
    if not os.access(runs, os.W_OK | os.X_OK):
        raise RunDirError(
            f"runs folder {runs} is not writable: choose another with --runs-dir or in Settings"
        )
    return runs


def valid_run_name(name: str) -> bool:
    """Whether ``name`` can name a run folder (and so appear in commands and scripts)."""
    # fullmatch: "$" alone would let a trailing newline through, into shell lines and scripts.
    return bool(_VALID_NAME.fullmatch(name or ""))


def create_run(
    runs_dir: str | os.PathLike[str], name: str, config: Mapping[str, Any]
) -> RunDir:
    """Make a new run folder with its config and a ``created`` event.

    A name already taken gets a numeric suffix (``name-2``), so an earlier run
    is never overwritten.
    """
    if not valid_run_name(name):
        raise RunDirError(
            f"run name {name!r} is not valid: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    runs = ensure_runs_dir(runs_dir)
    candidate, suffix = runs / name, 1
    while True:
        try:
            candidate.mkdir()
            break
        except FileExistsError:
            suffix += 1
            candidate = runs / f"{name}-{suffix}"
    run = RunDir(candidate)
    try:
        for sub in (METRICS_DIR, CHECKPOINTS_DIR, LOGS_DIR, SAMPLES_DIR):
            (run.path / sub).mkdir()
        write_toml_atomic(run.config_path, config)
        record_event(run, "created", schema=SCHEMA_VERSION)
    except OSError as exc:
        # Never leave a folder without its config behind (a disk that filled up meanwhile).
        shutil.rmtree(run.path, ignore_errors=True)
        raise RunDirError(disk_full_message(runs, exc)) from exc
    return run


def open_run(path: str | os.PathLike[str]) -> RunDir:
    """A run folder that exists and has its config; otherwise a clear error."""
    run = RunDir(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunDirError(f"{run.path} is not a folder: pick a run folder inside the runs folder")
    if not run.config_path.is_file():
        raise RunDirError(
            f"{run.path} has no {CONFIG_FILE}: it is not a workbench run, or its config was "
            "deleted (restore it, or start a new run)"
        )
    return run


def delete_run(run: RunDir) -> None:
    """Remove a run folder and everything in it (the caller asks the user first)."""
    shutil.rmtree(run.path)


# ---------------------------------------------------------------- config


def write_toml_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write TOML through a temporary file and a rename: never a half-written config."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(tomli_w.dumps(_drop_none(data)))
            f.flush()
            os.fsync(f.fileno())  # the rename must not publish a file whose bytes are not there
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def read_config(run: RunDir) -> dict[str, Any]:
    """The run's config as a dict; a missing or malformed file gives a RunDirError."""
    try:
        text = run.config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RunDirError(
            f"{run.path} has no {CONFIG_FILE}: restore it, or start a new run"
        ) from exc
    except UnicodeDecodeError as exc:
        raise RunDirError(
            f"{run.config_path} is not UTF-8 text (byte {exc.start}): fix or restore it"
        ) from exc
    except OSError as exc:
        raise RunDirError(f"{run.config_path} cannot be read ({exc.strerror or exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunDirError(f"{run.config_path} is not valid TOML ({exc}): fix or restore it") from exc


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    # TOML has no null; an unset optional value is simply absent.
    return {
        k: _drop_none(v) if isinstance(v, Mapping) else v
        for k, v in data.items()
        if v is not None
    }

