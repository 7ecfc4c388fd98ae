"""Room to say "disk full": a small reserve of disk blocks held by a running run.

When the disk fills during a run, the rank that hits it and the supervisor
still have to write the ``error`` and ``failed`` events that say so. The
supervisor allocates :data:`RESERVE_BYTES` in the run folder when it starts;
whoever meets ENOSPC first calls :func:`release`, and the end of the run is
recorded in the room it frees. The reserve is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import os

from backends.runs import RunDir

RESERVE_FILE = ".space-reserve"
RESERVE_BYTES = 1024 * 1024


def reserve(run: RunDir) -> None:
    """Hold :data:`RESERVE_BYTES` of real blocks for the run's last words (best effort)."""
    path = run.path / RESERVE_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except (AttributeError, OSError):  # no fallocate here: write the blocks
            os.write(fd, b"\0" * RESERVE_BYTES)
    except OSError:  # already short of room: nothing to hold
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


def release(run: RunDir) -> None:
    """Give the reserve back to the disk (on ENOSPC, or when the run ends)."""
    with contextlib.suppress(OSError):
        (run.path / RESERVE_FILE).unlink()
