"""The launch service's errors: each message names the problem and the fix, in one line."""

from __future__ import annotations


class LaunchError(ValueError):
    """A launch, resume or export that cannot go ahead; the message says how to fix it."""


class RunBusyError(LaunchError):
    """A launch or resume of a run that is still live; the message names its pids."""
