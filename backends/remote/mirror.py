"""Mirror a remote run into its local run folder, incrementally, through dropped connections.

Each poll asks the host for the sizes of ``events.jsonl`` and every
``metrics/rank_*.jsonl`` (ranks that appear later too) and reads only the
bytes past what the local copy holds, all files at once over SFTP. Only
complete lines are appended here, each file's new bytes in one ``write``; a
torn last line stays on the host until its newline arrives. The local file's
size *is* the offset (for ``events.jsonl``: its size less the bytes the local
folder had before the first mirrored one, ``events_base`` in ``remote.json``),
so a reconnect, a new process or a crash between two polls resumes exactly
where the copy ends: no gap, no duplicate. New files of ``samples/`` are
copied whole. The local Monitor and ``workbench runs`` read the copy as they
read any run folder, and it stays viewable offline.

:func:`follow` polls until the run ends; while the host cannot be reached it
says ``reconnecting`` (in ``remote.json`` and through ``on_link``) and tries
again with a growing pause.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.launch.errors import LaunchError
from backends.remote.hosts import Host
from backends.remote.launch import host_of, remote_state
from backends.remote.record import read_remote, write_remote
from backends.remote.ssh import Session, SSHError
from backends.runs import EVENTS_FILE, METRICS_DIR, SAMPLES_DIR, RunDir

ENDED = ("finished", "stopped", "killed", "failed", "lost", "unreadable")
# One poll reads at most this much of one file; a long backlog comes over several polls.
_MAX_READ = 8 * 1024 * 1024
_RANK_PREFIX, _RANK_SUFFIX = "rank_", ".jsonl"
# The host answered but could not give the run's state this many times in a row: stop following.
_MAX_REFUSALS = 3


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class Mirror:
    """Copies what a remote run appended since the last poll into the local run folder."""

    def __init__(self, run: RunDir, host: Host | None = None) -> None:
        self.run = run
        self.host = host or host_of(run)
        record = read_remote(run) or {}
        self.remote_dir = str(record["remote_run_dir"]).rstrip("/")
        self.events_base = int(record.get("events_base") or 0)
        self.session: Session | None = None

    def connect(self) -> Session:
        if self.session is None:
            self.session = Session(self.host)
        return self.session

    def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.close()

    def _local(self, name: str) -> Path:
        return self.run.path / name

    def _offset(self, name: str) -> int:
        size = _size(self._local(name))
        return max(0, size - self.events_base) if name == EVENTS_FILE else size

    def poll(self) -> int:
        """Copy the new complete lines of every file (and new samples); returns bytes copied.

        Raises :class:`SSHError` when the host cannot be reached; nothing
        half-copied is left behind (a file gets a whole block of lines or nothing).
        """
        session = self.connect()
        remote_sizes = dict(session.sizes(self.remote_dir, [EVENTS_FILE]))
        remote_sizes.update({
            f"{METRICS_DIR}/{n}": s for n, s in session.sizes(f"{self.remote_dir}/{METRICS_DIR}").items()
            if n.startswith(_RANK_PREFIX) and n.endswith(_RANK_SUFFIX)})
        wanted = []
        for name, size in sorted(remote_sizes.items()):
            offset = self._offset(name)
            if size > offset:
                wanted.append((name, offset, min(size - offset, _MAX_READ)))
        copied = 0
        if wanted:
            blocks = session.read_many([(f"{self.remote_dir}/{n}", o, length) for n, o, length in wanted])
            for (name, offset, _length), block in zip(wanted, blocks, strict=True):
                if self._offset(name) != offset:  # another mirror of this run got here first
                    continue
                end = block.rfind(b"\n")
                if end >= 0:  # whole lines only: a torn last line waits for its newline
                    _append(self._local(name), block[: end + 1])
                    copied += end + 1
        copied += self._copy_new_samples(session)
        return copied

    def _copy_new_samples(self, session: Session) -> int:
        remote = session.sizes(f"{self.remote_dir}/{SAMPLES_DIR}")
        local_dir = self.run.samples_dir
        copied = 0
        for name, size in sorted(remote.items()):
            target = local_dir / name
            if name.startswith(".") or (target.exists() and target.stat().st_size == size):
                continue
            data = session.read_from(f"{self.remote_dir}/{SAMPLES_DIR}/{name}", 0, size)
            if len(data) != size:
                continue  # still being written: next poll
            local_dir.mkdir(parents=True, exist_ok=True)
            tmp = local_dir / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, target)
            copied += size
        return copied


class _LinkNote:
    """Says when the link to the host changes (``remote.json`` and ``on_link``), once per change."""

    def __init__(self, run: RunDir, on_link: Callable[[str, str], Any] | None) -> None:
        self.run, self.on_link, self.link = run, on_link, ""

    def __call__(self, new: str, detail: str = "") -> None:
        if new != self.link:
            self.link = new
            write_remote(self.run, link=new, link_problem=detail or None)
            if self.on_link is not None:
                self.on_link(new, detail)


def follow(
    run: RunDir,
    *,
    interval: float = 0.5,
    state_every: float = 5.0,
    stop: threading.Event | None = None,
    on_link: Callable[[str, str], Any] | None = None,
    max_pause: float = 10.0,
) -> str:
    """Mirror ``run`` until it ends on its host (or ``stop`` is set); returns its last state.

    ``on_link(link, detail)`` is called with ``connected`` or ``reconnecting``
    (and the reason) whenever the link changes.
    """
    stop = stop or threading.Event()
    mirror = Mirror(run)
    _link = _LinkNote(run, on_link)
    pause, last_check, refusals = 1.0, 0.0, 0
    status = str(((read_remote(run) or {}).get("state") or {}).get("status") or "running")
    try:
        while not stop.is_set():
            try:
                mirror.poll()
                if time.monotonic() - last_check >= state_every:
                    status = remote_state(run, mirror.connect())["status"]
                    last_check = time.monotonic()
                    if status in ENDED:
                        mirror.poll()  # whatever the run wrote before it ended
                        _link("connected")
                        return status
                _link("connected")
                pause, refusals = 1.0, 0
                stop.wait(interval)
            except SSHError as exc:
                mirror.close()
                _link("reconnecting", str(exc))
                stop.wait(pause)
                pause = min(pause * 2, max_pause)
            except LaunchError as exc:  # the host answers, but cannot say what the run does
                refusals += 1
                if refusals >= _MAX_REFUSALS:
                    write_remote(run, state={"status": "unreadable", "reason": str(exc),
                                             "checked": time.time()})
                    return "unreadable"
                stop.wait(pause)
            except Exception as exc:  # noqa: BLE001 - a bad answer must not kill the follower
                mirror.close()
                _link("reconnecting", f"{type(exc).__name__}: {exc}")
                stop.wait(pause)
                pause = min(pause * 2, max_pause)
    finally:
        mirror.close()
    return status
