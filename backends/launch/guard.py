"""No orphans: a rank ends itself when the process that started it is gone.

torchrun starts every rank in a session of its own, so when the agent is
killed outright (``kill -9``, the OOM killer) nothing reaches the ranks and
they would train on, holding their GPUs. :func:`watch_parent` starts a
daemon thread that notices the parent's death (the rank is re-parented) and
kills the rank's process group (itself and its data-loader children) within
``poll_s``. The first rank to notice records a ``killed`` event saying why
(unless the run already ended); a peer that fails first because its partner
vanished asks :func:`launcher_gone` and records the same instead of an error.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from backends.runs import RunDir

POLL_S = 0.5
_parent: int | None = None


def launcher_gone() -> bool:
    """Whether this rank's launcher has died since :func:`watch_parent` started."""
    return _parent is not None and os.getppid() != _parent


def record_killed(run: RunDir) -> None:
    """Record that the launcher was killed from outside (once, and only if the run had not ended)."""
    from backends.launch.state import ENDINGS, last_lifecycle
    from backends.runs import record_event

    try:
        if last_lifecycle(run) not in ENDINGS:
            record_event(run, "killed", by="outside",
                         reason=f"its launcher (pid {_parent}) was killed from outside; the ranks "
                                "ended with it")
    except OSError:
        pass


def watch_parent(run: RunDir, poll_s: float = POLL_S) -> threading.Thread:
    """Kill this process group once the parent process is gone (daemon thread)."""
    global _parent
    _parent = os.getppid()

    def check() -> None:
        while not launcher_gone():
            time.sleep(poll_s)
        record_killed(run)
        try:
            if os.getpgid(0) == os.getpid():  # torchrun made the rank lead its own group
                os.killpg(os.getpid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(137)

    thread = threading.Thread(target=check, name="workbench-orphan-guard", daemon=True)
    thread.start()
    return thread
