"""Who drives a run: one owner at a time, and which of its processes are alive.

Two lock files in the run folder, both ``flock`` locks the kernel drops when
their holder dies (so a crash never leaves a run locked):

- ``.live.lock``: every process of a live run holds it *shared*: the
  supervisor (``backends.train.supervise``) for the run's life, and each rank
  while it trains (ranks started by a hand-run torchrun command too). A run
  is live while anyone holds it; :func:`is_live` asks for it *exclusively*
  without waiting.
- ``.launch.lock``: held exclusively by a launcher between checking that the
  run is not live and its supervisor holding ``.live.lock``, so two launches
  of one run cannot both pass the check.

``run.json`` records the launcher's and every rank's pid (for Stop, Kill
and the messages that name them); a pid counts only while its command line
still names the run folder, so a reused pid is never mistaken for the run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backends.launch.errors import RunBusyError
from backends.runs import RUN_INFO_FILE, RunDir

LIVE_LOCK = ".live.lock"
LAUNCH_LOCK = ".launch.lock"


# ---------------------------------------------------------------- run.json


@contextmanager
def locked_info(run: RunDir) -> Iterator[dict[str, Any]]:
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
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def register_worker(run: RunDir, rank: int, pid: int) -> None:
    """Record a rank's pid (each rank calls this first), so stop/kill can find it."""
    with locked_info(run) as info:
        info.setdefault("workers", {})[str(rank)] = {"pid": pid, "host": socket.gethostname()}


# ---------------------------------------------------------------- the live lock


def _open_lock(run: RunDir, name: str) -> int:
    return os.open(run.path / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def is_live(run: RunDir) -> bool:
    """Whether any process of the run holds its live lock now (this host's processes)."""
    try:
        fd = os.open(run.path / LIVE_LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the lock if it was taken
    return False


def hold_live(run: RunDir) -> int:
    """Hold the run's live lock (shared) until the returned descriptor is closed or we die."""
    fd = _open_lock(run, LIVE_LOCK)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


@contextmanager
def rank_presence(run: RunDir, rank: int, pid: int) -> Iterator[None]:
    """A rank's share of the live lock and its pid in ``run.json``, for its whole life."""
    fd = hold_live(run)
    try:
        register_worker(run, rank, pid)
        yield
    finally:
        os.close(fd)


@contextmanager
def claim_launch(run: RunDir, wait_s: float = 1.0) -> Iterator[None]:
    """Hold the launch lock; refuse (:class:`RunBusyError`) if the run is live.

    A liveness probe from a viewer holds the live lock for microseconds, so a
    busy answer is retried for ``wait_s`` before it counts.
    """
    fd = _open_lock(run, LAUNCH_LOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        deadline = time.monotonic() + wait_s
        while is_live(run):
            if time.monotonic() >= deadline:
                raise RunBusyError(busy_message(run))
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def busy_message(run: RunDir) -> str:
    pids = live_pids(run)
    named = ", ".join(f"{role} pid {pid}" for role, pid in pids) or "pids not recorded"
    return (f"run {run.name} is still running ({named}): stop it first with "
            f"`workbench runs {run.name} --stop` (or --kill), or Stop / Kill in the Training "
            "panel")


# ---------------------------------------------------------------- pids


def pid_belongs(pid: int, run: RunDir) -> bool:
    """``pid`` is alive, not a zombie, and (where /proc exists) mentions this run folder."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return False
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no /proc (macOS): the signal check is all there is
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        environ = b""
        if str(run.path.absolute()) not in cmdline:
            # A user's script names its run in its environment, not its command line.
            environ = (proc / "environ").read_bytes()
    except (OSError, IndexError):
        return False
    folder = str(run.path.absolute())
    return folder in cmdline or f"WORKBENCH_RUN_DIR={folder}\0".encode() in environ + b"\0"


def recorded_pids(run: RunDir) -> tuple[int | None, list[int]]:
    """The launcher's pid and every rank's, as recorded (alive or not)."""
    info = read_run_info(run)
    launcher = info.get("launcher_pid")
    workers = []
    for worker in (info.get("workers") or {}).values():
        if isinstance(worker, dict) and isinstance(worker.get("pid"), int):
            workers.append(int(worker["pid"]))
    return (int(launcher) if isinstance(launcher, int) else None), workers


def live_pids(run: RunDir) -> list[tuple[str, int]]:
    """``("launcher" | "rank N", pid)`` for each recorded process of the run still alive."""
    info = read_run_info(run)
    found = []
    launcher = info.get("launcher_pid")
    if isinstance(launcher, int) and pid_belongs(launcher, run):
        found.append(("launcher", launcher))
    for rank, worker in sorted((info.get("workers") or {}).items()):
        pid = worker.get("pid") if isinstance(worker, dict) else None
        if isinstance(pid, int) and pid_belongs(pid, run):
            found.append((f"rank {rank}", pid))
    return found


def is_alive(run: RunDir) -> bool:
    """Whether the run has a live process: its live lock is held, or a recorded pid lives."""
    return is_live(run) or bool(live_pids(run))
