"""Which run is current, whether it generates or scores, and which of its columns are still due.

Every run gets a new id; what the worker sends back carries the id of the run
it belongs to, so whatever arrives from a stopped or earlier run is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable


class RunBook:
    """The current run's id, mode ("idle", "generating" or "scoring") and pending columns."""

    def __init__(self) -> None:
        self.run = 0
        self.mode = "idle"
        self.pending: set[int] = set()

    @property
    def idle(self) -> bool:
        return self.mode == "idle"

    def begin(self, mode: str, columns: Iterable[int]) -> int:
        """A new run waiting on ``columns``; returns its id."""
        self.run += 1
        self.mode = mode
        self.pending = set(columns)
        return self.run

    def drop_current(self) -> None:
        """Anything still queued from the current run is dropped from now on."""
        self.run += 1

    def is_current(self, run: int) -> bool:
        return run == self.run

    def column_done(self, index: int) -> bool:
        """Column ``index`` reported; True when it was the last one due."""
        self.pending.discard(index)
        return not self.pending

    def end(self) -> str:
        """Back to idle; returns the mode the run had."""
        was, self.mode = self.mode, "idle"
        self.pending.clear()
        return was
