"""How a failed run is described: the root-cause rank, its signal or exit code, its traceback.

:func:`describe_failures` turns torchrun's per-rank ``ProcessFailure``
objects into the ``failed`` event's fields. A rank that ran out of disk is
named as "disk full", whatever layer raised it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backends.runs import RunDir

TORCHRUN_LOG_DIR = "torchrun"
# Errors that follow another rank's death: never the root cause when something else failed.
_SECONDARY = ("connection closed by peer", "connection reset", "broken pipe", "distbackenderror",
              "processgroup", "timed out", "nccl", "gloo")
_DISK_FULL = ("no space left on device", "errno 28", "disk quota exceeded")


def is_disk_full(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _DISK_FULL)


def _error_data(failure: Any) -> dict[str, Any]:
    try:  # a zero-length error file (the disk was full) is no reason to fail the report
        data = getattr(failure, "error_file_data", {}) or {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def describe_failures(failures: dict[int, Any], log_dir: Path,
                      rank_errors: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``failed`` event's fields from torchrun's per-rank failures (``ProcessFailure``).

    The root cause is the rank killed by a signal other than SIGTERM (the OOM
    killer, ``kill -9``), else the earliest error that is not a peer's
    communication error (those follow another rank's death), else the earliest.
    """
    entries = []
    for rank, failure in failures.items():
        exitcode = int(failure.exitcode)
        message: Any = _error_data(failure).get("message", failure.message)
        traceback_text = None
        if isinstance(message, dict):
            traceback_text = (message.get("extraInfo") or {}).get("py_callstack")
            message = message.get("message", "")
        tail = log_tail(log_dir, int(failure.local_rank))
        message = "" if message in (None, "<NONE>") else str(message)
        own = (rank_errors or {}).get(int(rank))
        if own is not None and not message.strip():
            # No error file (a script without @record): the rank's own error event says it.
            message = str(own.get("message") or "")
            traceback_text = traceback_text or own.get("traceback")
        if not message.strip() and tail:
            message = tail.strip().splitlines()[-1]
        if is_disk_full(f"{message}\n{traceback_text or ''}\n{tail or ''}"):
            message = f"disk full: {message}" if message else "disk full"
        entries.append({
            "rank": int(rank),
            "local_rank": int(failure.local_rank),
            "pid": int(failure.pid),
            "exit_code": exitcode,
            "signal": failure.signal_name() if exitcode < 0 else None,
            "message": message,
            "traceback": traceback_text,
            "timestamp": int(failure.timestamp),
            "log_tail": tail,
        })

    def priority(e: dict[str, Any]) -> tuple[int, int, int]:
        signalled = e["exit_code"] < 0 and e["signal"] != "SIGTERM"
        text = f"{e['message']} {e['traceback'] or ''}".lower()
        secondary = e["signal"] == "SIGTERM" or any(s in text for s in _SECONDARY)
        return (0 if signalled else 1 if not secondary else 2, e["timestamp"], e["rank"])

    entries.sort(key=priority)
    root: dict[str, Any] = dict(entries[0]) if entries else {"rank": None, "exit_code": None, "message": "unknown"}
    root["ranks"] = [{k: e[k] for k in ("rank", "exit_code", "signal", "message")} for e in entries]
    return root


def rank_errors_since(run: RunDir, since: float) -> dict[int, dict[str, Any]]:
    """The first ``error`` event each rank recorded since ``since`` (a launch), by rank."""
    from backends.runs import read_events

    found: dict[int, dict[str, Any]] = {}
    for event in read_events(run):
        rank = event.get("rank")
        if (event.get("kind") == "error" and isinstance(rank, int)
                and isinstance(event.get("t"), int | float) and event["t"] >= since):
            found.setdefault(rank, event)
    return found


def describe_from_rank_errors(run: RunDir, since: float, exc: BaseException) -> dict[str, Any]:
    """The ``failed`` fields when torchrun itself could not say (its error file was unreadable).

    The ranks' own ``error`` events (written before they died) name the rank
    and the exception; a full disk is named as such.
    """
    from backends.runs import read_events

    errors = [e for e in read_events(run) if e.get("kind") == "error"
              and isinstance(e.get("t"), int | float) and e["t"] >= since]
    if not errors:
        message = f"{type(exc).__name__}: {exc}"
        return {"rank": None, "exit_code": None,
                "message": f"disk full: {message}" if is_disk_full(message) else message}
    first = errors[0]
    rank = first.get("rank")
    message = str(first.get("message") or "")
    tail = log_tail(torchrun_log_dir(run), int(rank)) if isinstance(rank, int) else None
    if is_disk_full(f"{message}\n{first.get('traceback') or ''}\n{tail or ''}") and \
            not message.startswith("disk full"):
        message = f"disk full: {message}"
    return {"rank": rank, "exit_code": None, "message": message,
            "traceback": first.get("traceback"), "log_tail": tail}


def log_tail(log_dir: Path, local_rank: int, lines: int = 40) -> str | None:
    """The last ``lines`` lines of a rank's stderr from torchrun's newest log folder."""
    try:
        candidates = sorted(
            Path(log_dir).glob(f"*/attempt_*/{local_rank}/stderr.log"),
            key=lambda p: p.stat().st_mtime,
        )
        if not candidates:
            return None
        with open(candidates[-1], "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    return "\n".join(text.splitlines()[-lines:])


def torchrun_log_dir(run: RunDir) -> Path:
    return run.logs_dir / TORCHRUN_LOG_DIR
