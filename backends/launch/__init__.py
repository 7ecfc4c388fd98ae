"""The launch service: one Qt-free place that starts, watches and ends training runs.

Both ``workbench train`` / ``workbench runs`` and the GUI panels call these;
neither keeps launch or status logic of its own.

- :mod:`~backends.launch.service`: prepare a run folder, launch, resume from
  any checkpoint, list checkpoints, export the commands that start a run.
- :mod:`~backends.launch.control`: start under a supervisor, stop, kill, wait.
- :mod:`~backends.launch.state`: the one function that says what a run is
  doing (running, finished, stopped, killed, failed, lost, unreadable).
- :mod:`~backends.launch.ownership`: one owner per run (kernel-released
  locks), recorded pids.
- :mod:`~backends.launch.commands`: torchrun lines, per-node lines, Slurm
  scripts, every value quoted.
- :mod:`~backends.launch.loopback`: the single-node rendezvous that keeps
  every socket of a run on 127.0.0.1.
- :mod:`~backends.launch.guard`: ranks end when their launcher is gone.
- :mod:`~backends.launch.failures`: the root cause of a failed run.
- :mod:`~backends.launch.script`: a user's own script as a run (``ScriptConfig``).
- :mod:`~backends.launch.preview`: what a launch would run, checked before
  anything is created (the Training panel's command preview).
"""

from __future__ import annotations

from backends.launch.commands import (
    build_command,
    build_node_commands,
    build_slurm_script,
    exposure_note,
    free_port,
    shell_line,
    worker_env,
)
from backends.launch.control import (
    LAUNCHER_LOG,
    STOP_FILE,
    LaunchInfo,
    kill,
    remove_interrupted_checkpoints,
    start,
    stop,
    wait,
)
from backends.launch.errors import LaunchError, RunBusyError
from backends.launch.failures import describe_failures, log_tail, torchrun_log_dir
from backends.launch.ownership import (
    is_alive,
    is_live,
    live_pids,
    read_run_info,
    register_worker,
)
from backends.launch.preview import LaunchPreview, name_taken, preview_script, preview_train
from backends.launch.script import ScriptConfig
from backends.launch.service import (
    CheckpointInfo,
    config_from_dict,
    export_commands,
    launch,
    list_checkpoints,
    next_free_name,
    prepare,
    read_run_config,
    resume,
    run_checkpoints,
    start_prepared,
)
from backends.launch.state import STATES, RunState, list_runs, run_state, summary_for, with_news

__all__ = [
    "LAUNCHER_LOG", "STATES", "STOP_FILE", "CheckpointInfo", "LaunchError", "LaunchInfo",
    "LaunchPreview", "RunBusyError", "RunState", "ScriptConfig", "build_command", "build_node_commands",
    "build_slurm_script", "config_from_dict", "describe_failures", "export_commands", "exposure_note", "free_port", "is_alive", "is_live",
    "kill", "launch", "list_checkpoints", "list_runs", "live_pids", "log_tail", "name_taken", "next_free_name",
    "prepare", "preview_script", "preview_train", "read_run_config", "read_run_info", "register_worker", "remove_interrupted_checkpoints", "resume",
    "run_checkpoints", "run_state", "shell_line", "start", "start_prepared", "stop", "summary_for",
    "torchrun_log_dir", "wait", "with_news", "worker_env",
]
