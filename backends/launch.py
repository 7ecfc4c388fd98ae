"""Launching and controlling training processes: torchrun commands, Slurm scripts, stop, kill, reattach.

Building commands (plain functions of a :class:`~backends.train.config.TrainConfig`
and a run folder; nothing is started):

- :func:`build_command`: the single-node ``torchrun`` command (rendezvous on
  127.0.0.1 at a free port, per-rank logs in ``<run>/logs/torchrun``). Run by
  hand in a terminal it gives the same, watchable run.
- :func:`build_node_commands`: one command per node for a multi-node run
  (c10d rendezvous at ``rdzv_endpoint``; node 0 hosts it).
- :func:`build_slurm_script`: an ``sbatch`` script that runs torchrun on
  every allocated node.
- :func:`worker_env` / :func:`shell_line`: the environment the workers get
  (``OMP_NUM_THREADS=1`` per rank on CPU) and a copy-pasteable line.

Controlling a run (a GUI can call these after a restart: everything they need
is in the run folder's ``run.json``):

- :func:`launch` starts torchrun, under a small supervisor
  (``backends.train.supervise``) that turns torchrun's outcome into run
  events, in its own process session; records the pid in ``run.json`` and
  returns a :class:`LaunchInfo`. Every rank adds its own pid when it starts
  (:func:`register_worker`); torchrun starts each rank in a session of its own.
- :func:`stop`: graceful. Writes the ``stop`` file (every rank sees it at the
  end of the step, saves a checkpoint and exits 0), then, if the run is still
  alive after ``sigterm_after`` seconds, sends SIGTERM to the launcher, which
  torchrun forwards to the ranks (same outcome).
- :func:`kill`: SIGKILL to every recorded rank's session and the launcher's:
  for a run that does not respond. The last checkpoint stays.
- :func:`is_alive`: whether any recorded process of the run still runs (pids
  are checked against their command line, so a reused pid is not mistaken).
- :func:`wait`: block until the launcher exits; returns the run's status.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.runs import (
    RUN_INFO_FILE,
    SCHEMA_VERSION,
    RunDir,
    read_events,
    record_event,
    status_from_events,
)

TORCHRUN = ("-m", "torch.distributed.run")
ENTRY = ("-m", "backends.train")
STOP_FILE = "stop"
TORCHRUN_LOG_DIR = "torchrun"
LAUNCHER_LOG = "launcher.log"
DEFAULT_MULTINODE_PORT = 29500


@dataclass
class LaunchInfo:
    """What :func:`launch` started."""

    run: RunDir
    pid: int  # the launcher (supervisor + torchrun agent); leader of its own session
    command: list[str]  # the torchrun command it runs
    env: dict[str, str]  # variables added to the environment
    log: Path  # the launcher's stdout + stderr
    process: subprocess.Popen | None = None


# ---------------------------------------------------------------- commands


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the rendezvous binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def worker_env(config: Any) -> dict[str, str]:
    """Variables the ranks need on top of the caller's environment."""
    from backends.train.config import resolve_device

    env = {"PYTHONUNBUFFERED": "1"}
    if resolve_device(config.device) == "cpu" and config.nproc > 1:
        # One intra-op thread per rank: several ranks must not fight over the same cores.
        env["OMP_NUM_THREADS"] = "1"
    return env


def _torchrun_args(
    config: Any,
    run_dir: Path,
    *,
    nnodes: int,
    endpoint: str,
    node_rank: int | None = None,
    is_host: bool | None = None,
    run_id: str | None = None,
    python: str | None = None,
) -> list[str]:
    run_dir = Path(run_dir).absolute()
    args = [python or sys.executable, *TORCHRUN, "--nnodes", str(nnodes),
            "--nproc-per-node", str(config.nproc), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", endpoint, "--rdzv-id", run_id or run_dir.name]
    if is_host is not None:
        args += ["--rdzv-conf", f"is_host={'true' if is_host else 'false'}"]
    if node_rank is not None:
        args += ["--node-rank", str(node_rank)]
    args += ["--max-restarts", "0", "--log-dir", str(run_dir / "logs" / TORCHRUN_LOG_DIR),
             "--tee", "3", "--local-ranks-filter", "0",
             *ENTRY, "--run-dir", str(run_dir)]
    return args


def build_command(config: Any, run_dir: str | os.PathLike[str], *, port: int | None = None) -> list[str]:
    """The single-node torchrun command for ``config`` writing into ``run_dir``."""
    if config.nnodes != 1:
        raise ValueError(f"nnodes={config.nnodes}: use build_node_commands or build_slurm_script")
    endpoint = f"127.0.0.1:{port or free_port()}"
    return _torchrun_args(config, Path(run_dir), nnodes=1, endpoint=endpoint)


def build_node_commands(config: Any, run_dir: str | os.PathLike[str]) -> list[list[str]]:
    """One torchrun command per node (index = node rank); node 0 hosts the rendezvous.

    Every node must see the run folder at the same path (a shared file
    system): all ranks append their metrics and events there.
    """
    endpoint = config.rdzv_endpoint or f"127.0.0.1:{DEFAULT_MULTINODE_PORT}"
    return [
        _torchrun_args(config, Path(run_dir), nnodes=config.nnodes, endpoint=endpoint,
                       node_rank=node, is_host=node == 0)
        for node in range(config.nnodes)
    ]


def build_slurm_script(
    config: Any,
    run_dir: str | os.PathLike[str],
    *,
    job_name: str | None = None,
    partition: str | None = None,
    time_limit: str = "01:00:00",
    gpus_per_node: int | None = None,
    port: int = DEFAULT_MULTINODE_PORT,
    python: str | None = None,
) -> str:
    """An ``sbatch`` script: one task per node, each running torchrun for its node's ranks."""
    run_dir = Path(run_dir).absolute()
    gpus = config.nproc if gpus_per_node is None else gpus_per_node
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name or run_dir.name}",
        f"#SBATCH --nodes={config.nnodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --time={time_limit}",
        f"#SBATCH --output={run_dir / 'logs' / 'slurm-%j.out'}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gpus-per-node={gpus}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in worker_env(config).items())
    args = _torchrun_args(config, run_dir, nnodes=config.nnodes, endpoint=f"$HEAD:{port}",
                          run_id="$SLURM_JOB_ID", python=python)
    command = " ".join(a if a.startswith("$HEAD") or a == "$SLURM_JOB_ID" else shlex.quote(a) for a in args)
    lines += [
        "",
        "# The first node of the allocation hosts the rendezvous.",
        'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"export {env}",
        f'srun --kill-on-bad-exit=1 {command.replace("$HEAD", "${HEAD}")}',
        "",
    ]
    return "\n".join(lines)


def shell_line(command: list[str], env: dict[str, str] | None = None) -> str:
    """``command`` as one line to paste into a terminal, environment first."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return (prefix + " " if prefix else "") + shlex.join(command)


# ---------------------------------------------------------------- run.json


@contextmanager
def _locked_info(run: RunDir):
    """Read-modify-write ``run.json`` under a lock (the launcher and every rank write to it)."""
    lock_path = run.path / f".{RUN_INFO_FILE}.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            info = read_run_info(run)
            yield info
            tmp = run.run_info_path.with_name(f".{RUN_INFO_FILE}.tmp")
            tmp.write_text(json.dumps(info, indent=1), encoding="utf-8")
            os.replace(tmp, run.run_info_path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_run_info(run: RunDir) -> dict[str, Any]:
    """``run.json`` as a dict (empty when the run was not launched by the workbench)."""
    try:
        data = json.loads(run.run_info_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def register_worker(run: RunDir, rank: int, pid: int) -> None:
    """Record a rank's pid (each rank calls this first), so stop/kill/reattach can find it."""
    with _locked_info(run) as info:
        info.setdefault("workers", {})[str(rank)] = {"pid": pid, "host": socket.gethostname()}


# ---------------------------------------------------------------- start


def launch(run: RunDir, config: Any, *, port: int | None = None) -> LaunchInfo:
    """Start the run's torchrun command in a new session; returns at once."""
    command = build_command(config, run.path, port=port)
    env_delta = worker_env(config)
    project_root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, **env_delta}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (project_root, env.get("PYTHONPATH")) if p)
    (run.path / STOP_FILE).unlink(missing_ok=True)
    run.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = run.logs_dir / LAUNCHER_LOG
    argv = [sys.executable, "-m", "backends.train.supervise", "--run-dir", str(run.path.absolute()),
            "--", *command[3:]]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,  # Ctrl-C in the caller's terminal or a closing GUI leaves it be
        )
    with _locked_info(run) as info:
        info.update(
            schema=SCHEMA_VERSION,
            command=command,
            shell=shell_line(command, env_delta),
            env=env_delta,
            rdzv_endpoint=command[command.index("--rdzv-endpoint") + 1],
            launcher_pid=process.pid,
            launcher_argv=argv,
            host=socket.gethostname(),
            started=time.time(),
        )
        info.setdefault("workers", {})
    return LaunchInfo(run, process.pid, command, env_delta, log_path, process)


# ---------------------------------------------------------------- watch and control


def _pid_belongs(pid: int, run: RunDir) -> bool:
    """``pid`` is alive, not a zombie, and (where /proc exists) mentions this run folder."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no /proc (macOS): the signal check is all there is
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return str(run.path.absolute()) in cmdline or str(run.path) in cmdline


def _recorded_pids(run: RunDir) -> tuple[int | None, list[int]]:
    info = read_run_info(run)
    launcher = info.get("launcher_pid")
    workers = [int(w["pid"]) for w in info.get("workers", {}).values() if "pid" in w]
    return (int(launcher) if launcher else None), workers


def is_alive(run: RunDir) -> bool:
    """Whether the run's launcher or any of its ranks is still running (for reattach)."""
    launcher, workers = _recorded_pids(run)
    pids = ([launcher] if launcher else []) + workers
    return any(_pid_belongs(pid, run) for pid in pids)


def stop(run: RunDir, *, sigterm_after: float = 5.0, poll: float = 0.1) -> bool:
    """Ask the run to stop gracefully; returns whether it has ended.

    Writes the stop file; if the run is still alive after ``sigterm_after``
    seconds (0: at once), sends SIGTERM to the launcher, which forwards it to
    every rank. Each rank finishes its step and the run saves a checkpoint.
    """
    (run.path / STOP_FILE).write_text("stop requested\n", encoding="utf-8")
    deadline = time.monotonic() + sigterm_after
    while time.monotonic() < deadline:
        if not is_alive(run):
            return True
        time.sleep(poll)
    launcher, workers = _recorded_pids(run)
    targets = [launcher] if launcher and _pid_belongs(launcher, run) else workers
    for pid in targets:
        if _pid_belongs(pid, run):
            with _quiet():
                os.kill(pid, signal.SIGTERM)
    return not is_alive(run)


def kill(run: RunDir) -> list[int]:
    """SIGKILL every recorded rank's session, then the launcher's; returns the pids signalled."""
    launcher, workers = _recorded_pids(run)
    killed = []
    for pid in [*workers, *([launcher] if launcher else [])]:
        if _pid_belongs(pid, run):
            with _quiet():
                # torchrun makes each rank a session (and group) leader: its group is its tree.
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                killed.append(pid)
    if status_from_events(read_events(run)) in ("running", "created"):
        from backends.checkpoint import list_checkpoints

        found = list_checkpoints(run.checkpoints_dir)
        record_event(run, "stopped", killed=True, checkpoint=str(found[-1]) if found else None)
    return killed


def wait(target: LaunchInfo | RunDir, timeout: float | None = None, poll: float = 0.2) -> str:
    """Wait for the launcher to exit (or ``timeout``); returns the run's status then."""
    run = target.run if isinstance(target, LaunchInfo) else target
    process = target.process if isinstance(target, LaunchInfo) else None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if process is not None:
            if process.poll() is not None:
                break
        elif not is_alive(run):
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return status_from_events(read_events(run))


@contextmanager
def _quiet():
    try:
        yield
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- failures


_SECONDARY = ("connection closed by peer", "connection reset", "broken pipe", "distbackenderror",
              "processgroup", "timed out", "nccl", "gloo")


def describe_failures(failures: dict[int, Any], log_dir: Path) -> dict[str, Any]:
    """The ``failed`` event's fields from torchrun's per-rank failures (``ProcessFailure``).

    The root cause is the rank killed by a signal other than SIGTERM (the OOM
    killer, ``kill -9``), else the earliest error that is not a peer's
    communication error (those follow another rank's death), else the earliest.
    """
    entries = []
    for rank, failure in failures.items():
        exitcode = int(failure.exitcode)
        data = getattr(failure, "error_file_data", {}) or {}
        message = data.get("message", failure.message)
        traceback_text = None
        if isinstance(message, dict):
            traceback_text = (message.get("extraInfo") or {}).get("py_callstack")
            message = message.get("message", "")
        entries.append({
            "rank": int(rank),
            "local_rank": int(failure.local_rank),
            "pid": int(failure.pid),
            "exit_code": exitcode,
            "signal": failure.signal_name() if exitcode < 0 else None,
            "message": str(message),
            "traceback": traceback_text,
            "timestamp": int(failure.timestamp),
            "log_tail": log_tail(log_dir, int(failure.local_rank)),
        })

    def priority(e: dict[str, Any]) -> tuple[int, int, int]:
        signalled = e["exit_code"] < 0 and e["signal"] != "SIGTERM"
        text = f"{e['message']} {e['traceback'] or ''}".lower()
        secondary = e["signal"] == "SIGTERM" or any(s in text for s in _SECONDARY)
        return (0 if signalled else 1 if not secondary else 2, e["timestamp"], e["rank"])

    entries.sort(key=priority)
    root = dict(entries[0]) if entries else {"rank": None, "exit_code": None, "message": "unknown"}
    root["ranks"] = [{k: e[k] for k in ("rank", "exit_code", "signal", "message")} for e in entries]
    return root


def log_tail(log_dir: Path, local_rank: int, lines: int = 40) -> str | None:
    """The last ``lines`` lines of a rank's stderr from torchrun's newest log folder."""
    candidates = sorted(
        Path(log_dir).glob(f"*/attempt_*/{local_rank}/stderr.log"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        return None
    with open(candidates[-1], "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64 * 1024))
        text = f.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def torchrun_log_dir(run: RunDir) -> Path:
    return run.logs_dir / TORCHRUN_LOG_DIR


__all__ = [
    "LaunchInfo", "build_command", "build_node_commands", "build_slurm_script", "describe_failures",
    "free_port", "is_alive", "kill", "launch", "log_tail", "read_run_info", "register_worker",
    "shell_line", "stop", "wait", "worker_env",
]
