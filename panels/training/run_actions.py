"""What the launcher's run buttons do, as plain functions the panel runs on a worker.

Each one calls the launch service (``backends.launch``) or, for a saved
remote host, ``backends.remote``; none keeps a rule of its own about runs.
Launch and Resume return ``(run folder, step resumed from or None)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def launch_here(config: dict[str, Any], runs_dir: Path, gpu_count: int) -> tuple[Path, None]:
    """Create the checked config's run folder and start it on this machine."""
    from backends import launch

    info = launch.launch(launch.config_from_dict(config), runs_dir, cuda_devices=gpu_count)
    return info.run.path, None


def launch_on_host(config: dict[str, Any], runs_dir: Path, host_name: str) -> tuple[Path, None]:
    """Prepare the run here and start it on the saved host (mirrored by the Monitor)."""
    from backends.launch import LaunchError
    from backends.remote.hosts import HostError, get_host
    from backends.remote.launch import launch_remote
    from backends.train.config import TrainConfig

    try:
        host = get_host(host_name)
    except HostError as exc:
        raise LaunchError(str(exc)) from exc
    return launch_remote(TrainConfig.from_dict(config), runs_dir, host).path, None


def stop_run(run_path: Path) -> None:
    """Ask the run to finish its step, save a checkpoint and exit."""
    from backends import launch
    from backends.runs import open_run

    launch.stop(open_run(run_path))


def kill_run(run_path: Path) -> None:
    """End every process of the run now (no checkpoint)."""
    from backends import launch
    from backends.runs import open_run

    launch.kill(open_run(run_path))


def resume_run(run_path: Path, checkpoint: str | int | None) -> tuple[Path, int | None]:
    """Start the run again in its own folder, from its latest (or the chosen) checkpoint."""
    from backends import launch

    info = launch.resume(run_path, checkpoint=checkpoint)
    return info.run.path, info.resumed_from
