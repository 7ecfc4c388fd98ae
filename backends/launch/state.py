"""A run's state, computed in one place for the command line, the Monitor and the launcher.

States:

- ``created``: the folder is prepared (``--print-command``), nothing started it yet;
- ``running``: training, or starting (a live process holds the run);
- ``finished``: reached its last step;
- ``stopped``: ended gracefully (Stop, SIGTERM, the stop file, Ctrl-C) with a checkpoint;
- ``killed``: ended by Kill, or its launcher was killed from outside;
- ``failed``: a rank crashed (which rank, exit code or signal, the root cause);
- ``lost``: no end recorded and no process alive (the machine rebooted, say);
- ``unreadable``: the folder cannot be read; the reason says why.

The events log says how a run ended; the live lock and the recorded pids say
whether anything still runs. A run on another host (a shared file system)
cannot be checked from here and keeps what its events say. A run launched on
a remote host (its folder has ``remote.json``) is a mirror: no local process
holds it, so its state is what the host last said (recorded by the mirror),
unless the mirrored events already show its end.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backends.launch.ownership import is_live, live_pids, read_run_info
from backends.remote.record import read_remote
from backends.runs import ENDED, RunDir, RunSummary, read_events
from backends.runs import list_runs as list_run_folders

ENDINGS = ("finished", "stopped", "killed", "failed")
STATES = ("created", "running", *ENDINGS, "lost", "unreadable")


@dataclass(frozen=True)
class RunState:
    """What a run is doing now, and why we say so."""

    status: str
    reason: str = ""
    step: int | None = None  # the step the run ended at (when it ended)
    checkpoint: str | None = None  # the checkpoint its end event names
    pids: tuple[tuple[str, int], ...] = ()  # live processes: ("launcher" | "rank N", pid)


def _lifecycle(events: Iterable[Mapping[str, Any]]) -> tuple[str, Mapping[str, Any] | None,
                                                             Mapping[str, Any] | None, float]:
    """(status from events alone, the deciding event, the last rank error, time of last start)."""
    status, deciding, error, started_at = "unknown", None, None, 0.0
    for event in events:
        kind = event.get("kind")
        if kind == "created" and status == "unknown":
            status, deciding = "created", event
        elif kind == "started":
            status, deciding, error = "running", event, None
            started_at = _time(event)
        elif kind == "error":
            error = event
        elif kind in ENDINGS:
            status, deciding = str(kind), event
            if kind == "stopped" and event.get("killed"):  # written by earlier versions
                status = "killed"
    return status, deciding, error, started_at


def _time(event: Mapping[str, Any] | None) -> float:
    value = (event or {}).get("t")
    return float(value) if isinstance(value, int | float) else 0.0


def last_lifecycle(run: RunDir) -> str:
    """The status the events alone give (no liveness check): cheap, for the ranks."""
    return _lifecycle(read_events(run))[0]


def _checkable_here(info: Mapping[str, Any]) -> bool:
    host = info.get("host")
    return not host or host == socket.gethostname()


def run_state(run: RunDir, events: list[dict[str, Any]] | None = None) -> RunState:
    """The one answer to "what is this run doing?" (see the module docstring)."""
    events = read_events(run) if events is None else events
    status, deciding, error, _started = _lifecycle(events)
    remote = read_remote(run)
    if remote is not None and status not in ENDINGS:
        return _remote_state(status, remote)
    info = read_run_info(run)
    pids = tuple(live_pids(run))  # read once: each call checks every recorded pid
    alive = bool(pids) or is_live(run)
    started = info.get("started")
    launched_at = float(started) if isinstance(started, int | float) else 0.0
    step = deciding.get("step") if deciding else None
    checkpoint = deciding.get("checkpoint") if deciding else None
    if status in ENDINGS and alive and launched_at > _time(deciding):
        return RunState("running", "starting again (resumed)", pids=pids)
    if status in ENDINGS:
        return RunState(status, _ending_reason(status, deciding or {}), step, checkpoint, pids)
    if alive:
        return RunState("running" if status == "running" else "running",
                        "" if status == "running" else "starting", pids=pids)
    if not _checkable_here(info) and status == "running":
        return RunState("running", f"on {info.get('host')}: cannot check its processes from here")
    if status == "running":
        if error is not None:
            return RunState("failed", f"rank {error.get('rank')}: {error.get('message')}")
        return RunState("lost", "no process of this run is alive and it recorded no end "
                                "(its launcher was killed, or the machine restarted); resume it "
                                "from its last checkpoint")
    if status == "created" and info.get("launcher_pid"):
        return RunState("lost", "launched, but no process is alive and training never started: "
                                f"see {run.logs_dir / 'launcher.log'}")
    if status == "unknown":
        return RunState("unreadable", "events.jsonl holds no lifecycle event")
    return RunState(status)


def _remote_state(status: str, remote: Mapping[str, Any]) -> RunState:
    """A mirrored run not yet ended in its events: what its host last said."""
    host = remote.get("host", "?")
    state = remote.get("state")
    said: Mapping[str, Any] = state if isinstance(state, Mapping) else {}
    told = str(said.get("status") or ("running" if status == "running" else "created"))
    if told not in STATES:
        told = "unreadable"
    reason = str(said.get("reason") or "")
    where = f"on {host}" + (f": {reason}" if reason else "")
    if remote.get("link") == "reconnecting":
        where += f" (reconnecting: {remote.get('link_problem') or 'connection lost'})"
    return RunState(told, where)


def _ending_reason(status: str, event: Mapping[str, Any]) -> str:
    if status == "failed":
        rank = event.get("rank")
        who = f"rank {rank}" if rank is not None else "the launcher"
        how = f"signal {event['signal']}" if event.get("signal") else (
            f"exit code {event['exit_code']}" if event.get("exit_code") is not None else "")
        message = str(event.get("message") or "").strip().splitlines()
        return f"{who} failed" + (f" ({how})" if how else "") + (f": {message[-1]}" if message else "")
    if status == "killed":
        return str(event.get("reason") or ("killed from the workbench" if event.get("by") == "user"
                                           else "killed"))
    if status == "stopped":
        return "stopped gracefully" + (f" at step {event['step']}" if event.get("step") is not None
                                       else "")
    return ""


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run of the runs folder with its true state (newest first); unreadable ones too."""
    result = []
    for summary in list_run_folders(runs_dir):
        if summary.status == "unreadable" or summary.source != "workbench":
            # A TensorBoard log has no lifecycle to check: its reader's state stands.
            result.append(summary)
            continue
        try:
            state = run_state(RunDir(summary.path))
        except (OSError, ValueError) as exc:
            result.append(replace(summary, status="unreadable", problem=str(exc)))
            continue
        result.append(replace(summary, status=state.status, reason=state.reason or None))
    return result


def summary_for(path: Path) -> RunSummary:
    """One run's line of the runs list, with its true state."""
    from backends.runs import summarize_run

    summary = summarize_run(RunDir(Path(path)))
    if summary.status == "unreadable" or summary.source != "workbench":
        return summary
    state = run_state(RunDir(Path(path)))
    return replace(summary, status=state.status, reason=state.reason or None)


def with_news(summary: RunSummary, events_status: str, last_loss: float | None,
              last_step: int | None) -> RunSummary:
    """A listed run's line brought up to date with what a follower read since the listing.

    The listing's state stands (it checked liveness) unless the events read
    since record an ending; the newest loss and step replace the listed ones.
    """
    ended = summary.status == "running" and events_status in ENDED
    return replace(
        summary,
        status=events_status if ended else summary.status,
        last_loss=last_loss if last_loss is not None else summary.last_loss,
        last_step=last_step if last_step is not None else summary.last_step,
    )
