"""Starting and ending a run's processes: launch under a supervisor, stop, kill, wait.

:func:`start` runs the run's torchrun command under a small supervisor
(``backends.train.supervise``) in a process session of its own, so a closing
terminal or GUI leaves it be. The launch lock is held from the "is anything
of this run alive?" check until the supervisor holds the run's live lock, so
two launches of one run cannot both start (:mod:`backends.launch.ownership`).

- :func:`stop`: graceful. Writes the ``stop`` file (every rank sees it at the
  end of the step, saves a checkpoint and exits 0), then, if the run is still
  alive after ``sigterm_after`` seconds, sends SIGTERM to the launcher, which
  torchrun forwards to the ranks (same outcome).
- :func:`kill`: records ``killed`` (with the step reached and the checkpoint
  a resume would start from), then SIGKILLs the launcher's session and every
  rank's (torchrun makes each rank a session leader), and waits for them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.launch.commands import build_command, config_cwd, shell_line, worker_env
from backends.launch.ownership import (
    claim_launch,
    is_alive,
    is_live,
    live_pids,
    locked_info,
    pid_belongs,
    recorded_pids,
)
from backends.remote.record import is_remote
from backends.runs import SCHEMA_VERSION, RunDir, read_events, record_event

STOP_FILE = "stop"
LAUNCHER_LOG = "launcher.log"
# The supervisor holds the run within this long of being started (python + imports, busy host).
_HANDOFF_TIMEOUT_S = 60.0


@dataclass
class LaunchInfo:
    """What :func:`start` started."""

    run: RunDir
    pid: int  # the launcher (supervisor + torchrun agent); leader of its own session
    command: list[str]  # the torchrun command it runs
    env: dict[str, str]  # variables added to the environment
    log: Path  # the launcher's stdout + stderr
    process: subprocess.Popen | None = None
    resumed_from: int | None = None  # the checkpoint step a resume starts from


def remove_interrupted_checkpoints(run: RunDir) -> list[Path]:
    """Delete ``.tmp_*`` folders that an interrupted checkpoint write left behind."""
    import shutil

    removed = []
    if run.checkpoints_dir.is_dir():
        for entry in run.checkpoints_dir.iterdir():
            if entry.name.startswith(".tmp_"):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def start(run: RunDir, config: Any, *, resumed_from: int | None = None) -> LaunchInfo:
    """Start the run's torchrun command under its supervisor; returns once it holds the run.

    Raises :class:`~backends.launch.ownership.RunBusyError` when the run is live.
    """
    command = build_command(config, run.path)
    env_delta = worker_env(config, run.path)
    project_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **env_delta}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (project_root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "backends.train.supervise", "--run-dir", str(run.path.absolute()),
            "--", *command[3:]]
    with claim_launch(run):
        remove_interrupted_checkpoints(run)
        (run.path / STOP_FILE).unlink(missing_ok=True)
        run.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = run.logs_dir / LAUNCHER_LOG
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=config_cwd(config),
                start_new_session=True,  # Ctrl-C in the caller's terminal or a closing GUI leaves it be
            )
        with locked_info(run) as info:
            info.update(
                schema=SCHEMA_VERSION,
                command=command,
                shell=shell_line(command, env_delta, config_cwd(config)),
                env=env_delta,
                launcher_pid=process.pid,
                launcher_argv=argv,
                host=socket.gethostname(),
                started=time.time(),
                resumed_from=resumed_from,
                workers={},
            )
        # Keep the launch lock until the supervisor holds the run: no second launch in between.
        deadline = time.monotonic() + _HANDOFF_TIMEOUT_S
        while not is_live(run) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    return LaunchInfo(run, process.pid, command, env_delta, log_path, process, resumed_from)


def stop(run: RunDir, *, sigterm_after: float = 5.0, poll: float = 0.1) -> bool:
    """Ask the run to stop gracefully; returns whether it has ended.

    Writes the stop file; if the run is still alive after ``sigterm_after``
    seconds (0: at once), sends SIGTERM to the launcher, which forwards it to
    every rank. Each rank finishes its step and the run saves a checkpoint.
    A run launched on a remote host is stopped there (:mod:`backends.remote.launch`).
    """
    if is_remote(run):
        from backends.remote.launch import stop_remote

        return stop_remote(run)
    (run.path / STOP_FILE).write_text("stop requested\n", encoding="utf-8")
    deadline = time.monotonic() + sigterm_after
    while time.monotonic() < deadline:
        if not is_alive(run):
            return True
        time.sleep(poll)
    launcher, workers = recorded_pids(run)
    targets = [launcher] if launcher and pid_belongs(launcher, run) else workers
    for pid in targets:
        if pid_belongs(pid, run):
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
    return not is_alive(run)


def _latest_checkpoint(run: RunDir) -> tuple[int | None, str | None]:
    from backends.launch.service import list_checkpoints

    found = list_checkpoints(run)
    return (found[-1].step, str(found[-1].path)) if found else (None, None)


def _last_step(run: RunDir) -> int | None:
    from backends.runs import last_record

    record = last_record(run.metrics_path(0), lambda r: r.get("kind") == "train")
    step = record.get("step") if record else None
    return step if isinstance(step, int) else None


def kill(run: RunDir, *, wait_s: float = 5.0) -> list[int]:
    """End every process of the run now; returns the pids signalled. Checkpoints stay.

    A run launched on a remote host is killed there (``scancel`` for a Slurm job).
    """
    from backends.launch.state import run_state

    if is_remote(run):
        from backends.remote.launch import kill_remote

        return kill_remote(run)

    if run_state(run).status == "running":
        step = _last_step(run)
        ckpt_step, ckpt_path = _latest_checkpoint(run)
        record_event(
            run, "killed", by="user", step=step, checkpoint=ckpt_path and str(Path(ckpt_path).absolute()),
            reason=f"killed from the workbench at step {step if step is not None else '?'}; "
                   + (f"a resume starts from the checkpoint of step {ckpt_step}" if ckpt_step
                      else "no checkpoint was saved"),
        )
    launcher, workers = recorded_pids(run)
    killed = []
    # The launcher first: with it gone, nothing is left to report the ranks' deaths as a failure.
    for pid in [*([launcher] if launcher else []), *workers]:
        if pid_belongs(pid, run):
            with suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                # Launcher and ranks lead their own groups: the group is exactly their tree.
                if group == pid:
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    # A killed process looks dead (a zombie leader) while its other threads still tear down and
    # hold its files: the run is over when its live lock is free too.
    _settle(run, wait_s)
    return killed


def _settle(run: RunDir, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while (live_pids(run) or is_live(run)) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait(target: LaunchInfo | RunDir, timeout: float | None = None, poll: float = 0.2) -> str:
    """Wait for the launcher to exit (or ``timeout``); returns the run's state then."""
    from backends.launch.state import run_state

    run = target.run if isinstance(target, LaunchInfo) else target
    process = target.process if isinstance(target, LaunchInfo) else None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if process is not None:
            if process.poll() is not None:
                _settle(run, 5.0)  # its ranks' teardown ends a moment after the launcher's
                break
        elif not is_alive(run):
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return run_state(run, read_events(run)).status
