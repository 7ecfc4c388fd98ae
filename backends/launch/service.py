"""The launch service: what ``workbench train`` and the Training panel both call.

- :func:`prepare`: validate a config, check the disk, create the run folder
  with its ``config.toml`` (status ``created``). Nothing runs yet.
- :func:`launch`: prepare and start a new single-node run.
- :func:`resume`: continue a run in its own folder from its latest checkpoint
  or a chosen one; refused while the run is live, and for a finished run
  unless ``steps`` was raised.
- :func:`export_commands`: the torchrun line, per-node lines or Slurm script
  that start a prepared run when run as printed.
- :func:`list_checkpoints`: a run's complete checkpoints with step, time, size.
- :func:`config_from_dict`: plain config values as a TrainConfig or a ScriptConfig.

Stop, kill and the run state live in :mod:`backends.launch.control` and
:mod:`backends.launch.state`; everything here raises :class:`LaunchError`
(or a subclass) with a one-line message naming the problem and the fix.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.launch.commands import (
    build_command,
    build_node_commands,
    build_slurm_script,
    config_cwd,
    shell_line,
    worker_env,
)
from backends.launch.control import LaunchInfo, remove_interrupted_checkpoints, start
from backends.launch.errors import LaunchError, RunBusyError
from backends.launch.ownership import busy_message, is_alive
from backends.launch.script import ScriptConfig, is_script_config, validate_script
from backends.remote.record import is_remote
from backends.runs import (
    RunDir,
    RunDirError,
    check_free_space,
    create_run,
    disk_full_message,
    ensure_runs_dir,
    open_run,
    read_config,
    write_toml_atomic,
)

_STEP_DIR = re.compile(r"^step_(\d+)$")
EXPORT_KINDS = ("torchrun", "nodes", "slurm")


@dataclass(frozen=True)
class CheckpointInfo:
    """One complete checkpoint of a run."""

    step: int
    path: Path
    saved: float  # when it was written (seconds since the epoch)
    size_bytes: int
    host: str | None = None  # the remote host it is on (``path`` is there); None: here


def run_checkpoints(run: RunDir) -> list[CheckpointInfo]:
    """Every checkpoint of a run wherever it is: here, or for a remote run on its host (asked
    over SSH; those already fetched are listed with their folder here)."""
    if is_remote(run):
        from backends.remote.launch import host_checkpoints

        return host_checkpoints(run)
    return list_checkpoints(run)


# ---------------------------------------------------------------- checkpoints


def list_checkpoints(run: RunDir) -> list[CheckpointInfo]:
    """The run's complete checkpoints, oldest first (interrupted writes are not listed)."""
    found = []
    if not run.checkpoints_dir.is_dir():
        return []
    for entry in run.checkpoints_dir.iterdir():
        match = _STEP_DIR.match(entry.name)
        meta = entry / "meta.json"
        if not match or not meta.is_file():
            continue
        size = 0
        for folder, _dirs, files in os.walk(entry):
            for name in files:
                try:
                    size += os.stat(os.path.join(folder, name)).st_size
                except OSError:
                    pass
        try:
            saved = json.loads(meta.read_text(encoding="utf-8")).get("saved")
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, int | float):
            saved = meta.stat().st_mtime
        found.append(CheckpointInfo(int(match.group(1)), entry, float(saved), size))
    return sorted(found, key=lambda c: c.step)


def _choose_checkpoint(run: RunDir, wanted: str | int | None) -> CheckpointInfo:
    found = list_checkpoints(run)
    if not found:
        raise LaunchError(f"{run.name} has no checkpoint to resume from: launch it anew")
    if wanted is None or wanted == "":
        return found[-1]
    text = str(wanted)
    for info in found:
        if text.isdigit() and info.step == int(text):
            return info
        if Path(text).expanduser().absolute() == info.path.absolute():
            return info
    steps = ", ".join(str(c.step) for c in found)
    raise LaunchError(f"{run.name} has no checkpoint {text!r}: choose a step from {steps}")


# ---------------------------------------------------------------- prepare and launch


def _validated(config: Any, *, cuda_devices: int | None = None, with_data: bool = True) -> Any:
    from backends.checkpoint import CheckpointError
    from backends.data.errors import DataError
    from backends.models import ConfigError
    from backends.train.config import TrainConfigError, validate
    from backends.train.data import check_data

    try:
        if config.data.path:
            config.data.path = str(Path(config.data.path).expanduser().absolute())
        if config.resume:
            config.resume = str(Path(config.resume).expanduser().absolute())
        validate(config, cuda_devices=cuda_devices)
        if with_data:
            data = check_data(config)
            if config.resume:
                _check_resumable(config, data)
    except (ConfigError, TrainConfigError, DataError, CheckpointError) as exc:
        raise LaunchError(str(exc)) from exc
    return config


def _check_resumable(config: Any, data: Any) -> None:
    from backends.checkpoint import check_resumable
    from backends.models import MODELS
    from backends.parallel import STRATEGIES

    full = MODELS[config.model].config_class.from_dict({**config.model_config, **data.model_fields})
    check_resumable(config.resume, model=config.model, model_config=full.to_dict(),
                    sharded=STRATEGIES[config.strategy].sharded)


def prepare(config: Any, runs_dir: str | os.PathLike[str], *,
            cuda_devices: int | None = None) -> RunDir:
    """Validate ``config`` and create its run folder (config written, status ``created``).

    A name already taken gets a suffix (``name-2``): an earlier run is never
    overwritten. A full disk is refused before anything is created.
    """
    if is_script_config(config.to_dict()):
        config = validate_script(config)
    else:
        config = _validated(config, cuda_devices=cuda_devices)
    try:
        runs = ensure_runs_dir(runs_dir)
        check_free_space(runs)
        return create_run(runs, config.name or config.model, config.to_dict())
    except RunDirError as exc:
        raise LaunchError(str(exc)) from exc


def config_from_dict(data: dict[str, Any]) -> Any:
    """A config's plain values as its object: a ScriptConfig (``source = "script"``) or a TrainConfig."""
    from backends.train.config import TrainConfig

    return ScriptConfig.from_dict(data) if is_script_config(data) else TrainConfig.from_dict(data)


def read_run_config(run: RunDir) -> Any:
    """The run's config as the object it was made from: a TrainConfig or a ScriptConfig."""
    from backends.train.config import TrainConfigError

    try:
        return config_from_dict(read_config(run))
    except (RunDirError, TrainConfigError) as exc:
        raise LaunchError(str(exc)) from exc


def next_free_name(runs_dir: str | os.PathLike[str], name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... the first that no run folder uses yet."""
    runs = Path(runs_dir)
    base = re.sub(r"-\d+$", "", name) if (runs / name).exists() else name
    candidate, suffix = name, 1
    while (runs / candidate).exists():
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def launch(config: Any, runs_dir: str | os.PathLike[str], *,
           cuda_devices: int | None = None) -> LaunchInfo:
    """Prepare a new run folder for ``config`` and start it on this machine."""
    if config.nnodes > 1:
        raise LaunchError(
            f"nnodes={config.nnodes}: start each node's command on its node "
            "(--print-command nodes, or --print-command slurm for a Slurm cluster)"
        )
    run = prepare(config, runs_dir, cuda_devices=cuda_devices)
    return start_prepared(run)


def start_prepared(run: RunDir) -> LaunchInfo:
    """Start a run folder that :func:`prepare` made (status ``created``)."""
    config = read_run_config(run)
    try:
        return start(run, config)
    except OSError as exc:
        raise LaunchError(disk_full_message(run.path, exc)) from exc


def resume(
    run_path: str | os.PathLike[str],
    *,
    checkpoint: str | int | None = None,
    overrides: Sequence[str] = (),
    cuda_devices: int | None = None,
) -> LaunchInfo:
    """Continue a run in its own folder from its latest (or the chosen) checkpoint.

    A user's script is relaunched in the same folder with the same command: it
    resumes from its own checkpoints, as it would by hand.
    """
    from backends.launch.state import run_state
    from backends.train.config import TrainConfigError

    try:
        run = open_run(run_path)
        config = read_run_config(run).with_overrides(list(overrides))
    except (RunDirError, TrainConfigError) as exc:
        raise LaunchError(str(exc)) from exc
    if is_remote(run):  # resumed on its host, by the host's own launch service
        from backends.remote.launch import resume_remote

        return resume_remote(run, checkpoint=checkpoint, overrides=overrides)
    if is_alive(run):
        raise RunBusyError(busy_message(run))
    if isinstance(config, ScriptConfig):
        if checkpoint is not None:
            raise LaunchError(f"{run.name} runs your script, which picks its own checkpoint: "
                              "pass the step to the script (arguments after --)")
        config = validate_script(config)
        write_toml_atomic(run.config_path, config.to_dict())
        return start(run, config)
    remove_interrupted_checkpoints(run)
    chosen = _choose_checkpoint(run, checkpoint)
    state = run_state(run)
    if config.steps <= chosen.step:
        ended = (f"finished at step {state.step}" if state.status == "finished"
                 else f"has a checkpoint at step {chosen.step}")
        raise LaunchError(
            f"{run.name} {ended} and its config trains to step {config.steps}: raise steps to "
            f"continue (e.g. --set steps={max(config.steps, chosen.step) * 2})"
        )
    config.resume = str(chosen.path.absolute())
    config = _validated(config, cuda_devices=cuda_devices)
    try:
        check_free_space(run.path)
        write_toml_atomic(run.config_path, config.to_dict())
        return start(run, config, resumed_from=chosen.step)
    except RunDirError as exc:
        raise LaunchError(str(exc)) from exc
    except OSError as exc:
        raise LaunchError(disk_full_message(run.path, exc)) from exc


# ---------------------------------------------------------------- exported commands


def export_commands(run: RunDir, kind: str, **slurm: Any) -> str:
    """The command(s) that start the prepared ``run`` when run exactly as printed."""
    if kind not in EXPORT_KINDS:
        raise LaunchError(f"unknown command kind {kind!r}: choose {', '.join(EXPORT_KINDS)}")
    config = read_run_config(run)
    if kind == "slurm":
        try:
            return build_slurm_script(config, run.path, **slurm)
        except ValueError as exc:
            raise LaunchError(str(exc)) from exc
    env, cwd = worker_env(config, run.path), config_cwd(config)
    if kind == "nodes" or config.nnodes > 1:
        return "\n".join(f"# node {i}\n{shell_line(c, env, cwd)}"
                         for i, c in enumerate(build_node_commands(config, run.path)))
    return shell_line(build_command(config, run.path), env, cwd)
