"""Progress reporting and cancellation shared by every long engine call.

An engine entry point takes an optional ``progress`` callback that receives a
fraction in [0, 1]. The caller cancels by making that callback raise
:class:`Cancelled`; the engine needs no other cancellation mechanism, it only
has to report progress often enough.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float], None]


class Cancelled(Exception):
    """Raised from a progress callback to stop the engine call that made it."""


def no_progress(fraction: float) -> None:
    """A progress callback for callers that do not watch progress."""


def report(progress: ProgressCallback | None, fraction: float) -> None:
    """Report ``fraction`` (clamped to [0, 1]) if there is anyone listening."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))))
