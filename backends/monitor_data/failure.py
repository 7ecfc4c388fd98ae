"""Why a run failed, read from its events and logs: the rank, exit code, message and a hint."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.runs import RunDir
from backends.runs.schema import is_number

# ---------------------------------------------------------------- failures


@dataclass(frozen=True)
class FailureReport:
    """What the failure banner says about a dead rank."""

    rank: int | None
    exit_code: int | None
    message: str
    traceback: str
    log_tail: str
    log_files: list[Path] = field(default_factory=list)
    time: float | None = None

    @property
    def exit_text(self) -> str:
        """``exit code 1`` or ``signal 9 (SIGKILL)`` for a negative code."""
        if self.exit_code is None:
            return "exit code unknown"
        if self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = "unknown signal"
            return f"killed by signal {-self.exit_code} ({name})"
        return f"exit code {self.exit_code}"

    @property
    def hint(self) -> str:
        """What usually causes this failure and what to try, or empty."""
        text = f"{self.message}\n{self.traceback}\n{self.log_tail}".lower()
        for needles, advice in _HINTS:
            if any(n in text for n in needles):
                return advice
        if self.exit_code == -signal.SIGKILL:
            return ("SIGKILL with no traceback: the system's out-of-memory killer (see `dmesg`) "
                    "or a manual kill -9.")
        return ""

    @property
    def headline(self) -> str:
        who = "A rank" if self.rank is None else f"Rank {self.rank}"
        text = f"{who} failed: {self.exit_text}"
        return f"{text}. {self.message}" if self.message else text


# Known causes, matched in the message, traceback and log tail (lowercase).
_HINTS = (
    (("cuda out of memory", "outofmemoryerror"),
     "The GPU ran out of memory: lower batch_size (or raise grad_accum), use bf16, or a "
     "sharded strategy (fsdp); the memory plan shows the per-rank estimate."),
    (("address already in use",),
     "The rendezvous port is taken, often by a leftover run: stop it, or launch again "
     "(single-node launches pick a free port)."),
    (("watchdog caught collective operation timeout", "timed out", "timeout"),
     "A collective timed out: another rank hung or died first. Its log shows why; "
     "TORCH_NCCL_DUMP_ON_TIMEOUT=1 with TORCH_FR_BUFFER_SIZE=2000 records a Flight Recorder trace."),
)

# What torchrun writes where a rank left no error file (killed by a signal).
_NO_MESSAGE = ("<NONE>", "<N/A>", "None")


def failure_report(
    run: RunDir, event: Mapping[str, Any], errors: Sequence[Mapping[str, Any]] = ()
) -> FailureReport:
    """A ``failed`` lifecycle event read for a person, with the run's log files listed.

    ``errors`` are the run's ``error`` events (a rank records its own
    traceback before it dies): when the ``failed`` event has no traceback,
    the failed rank's own one is used.
    """
    rank = event.get("rank")
    code = event.get("exit_code")
    tail = event.get("log_tail") or event.get("stderr_tail") or ""
    if isinstance(tail, list):
        tail = "\n".join(str(line) for line in tail)
    message = str(event.get("message") or event.get("error") or "")
    if message.strip() in _NO_MESSAGE:
        message = ""
    trace = str(event.get("traceback") or "")
    if not trace:
        own = [e for e in errors if e.get("rank") == rank and e.get("traceback")]
        if own:
            trace = str(own[-1]["traceback"])
            message = message or str(own[-1].get("message") or "")
    named = [Path(str(p)) for p in _as_list(event.get("log_files", event.get("log")))]
    return FailureReport(
        rank=int(rank) if is_number(rank) else None,
        exit_code=int(code) if is_number(code) else None,
        message=message.strip().splitlines()[0] if message.strip() else "",
        traceback=trace.rstrip(),
        log_tail=str(tail or "").rstrip(),
        log_files=named or run_log_files(run, int(rank) if is_number(rank) else None),
        time=event.get("t") if is_number(event.get("t")) else None,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def run_log_files(run: RunDir, rank: int | None = None) -> list[Path]:
    """The run's log files, the given rank's first (``logs/`` and torchrun's ``--log-dir``)."""
    found: list[Path] = []
    for folder in (run.logs_dir, run.path / "torchrun"):
        if folder.is_dir():
            found.extend(p for p in folder.rglob("*") if p.is_file())

    def order(path: Path) -> tuple[int, str]:
        parts = set(path.parts) | {path.stem}
        mine = rank is not None and (
            str(rank) in parts or f"rank_{rank}" in parts or f"rank{rank}" in parts
        )
        return (0 if mine else 1, str(path))

    return sorted(found, key=order)
