"""What a launch would run, before anything is created: the launcher's preview.

:func:`preview_train` and :func:`preview_script` check a config given as
plain values (the Training panel's form) the way :func:`~backends.launch.prepare`
will, and return a :class:`LaunchPreview`: the checked config, the exact shell
line(s) per node, the Slurm script, where the run's sockets can be reached
from, and for the built-in trainer the learning-rate schedule. A name that a
run folder already uses is refused here: Launch never silently renames what
the preview showed. Nothing is written; both run on a worker (they import
torch through the trainer's schedule).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The learning-rate preview never holds more points than this.
PREVIEW_POINTS = 400


@dataclass
class LaunchPreview:
    """A valid config and what it runs, or the first error (and the config key it names)."""

    config: dict[str, Any] | None
    error: str = ""
    error_key: str | None = None
    lr_steps: list[int] = field(default_factory=list)
    lr_values: list[float] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # shell lines, one per node
    slurm: str = ""
    exposure: str = ""  # what the run's sockets can be reached from

    @property
    def valid(self) -> bool:
        return self.config is not None

    @property
    def command_text(self) -> str:
        """The exact command(s) that will run, one per node, as shell text ("" when invalid)."""
        if self.config is None:
            return ""
        if len(self.commands) == 1:
            return self.commands[0]
        return "\n".join(f"# node {i}\n{c}" for i, c in enumerate(self.commands))


def name_taken(runs_dir: str | os.PathLike[str], name: str) -> str | None:
    """Why ``name`` cannot be a new run in ``runs_dir`` (a folder has it), or None."""
    if (Path(runs_dir) / name).exists():
        return (f"a run named {name!r} already exists in {runs_dir}: choose another name "
                "(or select that run and press Resume)")
    return None


def preview_train(values: dict[str, Any], runs_dir: Path, gpu_count: int, *,
                  points: int = PREVIEW_POINTS) -> LaunchPreview:
    """Check the built-in trainer's config and derive its LR curve and commands.

    An error from the config's own check carries no ``error_key``: the caller
    knows its fields and which one the message names.
    """
    from backends.train.config import TrainConfig, TrainConfigError, validate
    from backends.train.loop import lr_at

    name = str(values.get("name", "")).strip()
    if not name:
        return LaunchPreview(None, "Run name is empty: give the run a name", "name")
    taken = name_taken(runs_dir, name)
    if taken:
        return LaunchPreview(None, taken, "name")
    try:
        config = TrainConfig.from_dict(values)
        validate(config, cuda_devices=gpu_count)
    except TrainConfigError as exc:
        return LaunchPreview(None, str(exc))
    steps = list(range(0, config.steps, max(1, config.steps // points)))
    return LaunchPreview(
        config=config.to_dict(),
        lr_steps=steps,
        lr_values=[lr_at(s, config) for s in steps],
        **_commands(config, Path(runs_dir) / name),
    )


def preview_script(values: dict[str, Any], runs_dir: Path) -> LaunchPreview:
    """Check a "your script" config and derive its commands (an error names no key)."""
    from backends.launch.errors import LaunchError
    from backends.launch.script import ScriptConfig, validate_script

    try:
        config = validate_script(ScriptConfig.from_dict(values))
    except LaunchError as exc:
        return LaunchPreview(None, str(exc))
    taken = name_taken(runs_dir, config.name)
    if taken:
        return LaunchPreview(None, taken, "name")
    return LaunchPreview(config=config.to_dict(), **_commands(config, Path(runs_dir) / config.name))


def _commands(config: Any, run_dir: Path) -> dict[str, Any]:
    """The shell line(s), Slurm script and exposure note of a checked config."""
    from backends.launch.commands import (
        build_command,
        build_node_commands,
        build_slurm_script,
        config_cwd,
        exposure_note,
        shell_line,
        worker_env,
    )

    env, cwd = worker_env(config, run_dir), config_cwd(config)
    if config.nnodes == 1:
        commands = [shell_line(build_command(config, run_dir), env, cwd)]
    else:
        commands = [shell_line(c, env, cwd) for c in build_node_commands(config, run_dir)]
    try:
        slurm = build_slurm_script(config, run_dir)
    except ValueError as exc:
        slurm = f"# {exc}"
    return {"commands": commands, "slurm": slurm, "exposure": exposure_note(config)}
