"""Bookkeeping for the edited image's renders: debounce, request ids, stale answers dropped.

A burst of slider or brush events becomes one request after a short
debounce; every request gets an increasing id, and an answer older than the
one on screen is dropped, so a fast drag shows only the newest positions.
The counters and latencies are read by tests and the latency benchmark.
"""

from __future__ import annotations

import itertools
import time

from PySide6.QtCore import QObject, QTimer, Signal

# Collapses a burst of slider events into one request while staying far below
# a frame (16 ms).
DEBOUNCE_MS = 4


class RenderRequests(QObject):
    """Which render was asked for last, which is on screen, and how long each took.

    Signals
    -------
    sig_due()   the debounce ran out: submit a render of what is set up now
    """

    sig_due = Signal()

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.sig_due)
        self._ids = itertools.count(1)
        self._latest = 0
        self._shown = 0
        self._started: dict[int, float] = {}
        self.stats = {"requested": 0, "submitted": 0, "rendered": 0, "shown": 0, "stale": 0}
        self.latencies_ms: list[float] = []

    def ask(self) -> None:
        """Count a request; the render is submitted when the debounce runs out."""
        self.stats["requested"] += 1
        if not self._debounce.isActive():
            self._debounce.start()

    def pending(self) -> bool:
        """Whether a render is waiting (debounced) or on its way to the screen."""
        return self._debounce.isActive() or self._shown < self._latest

    def stop(self) -> None:
        """Forget the debounced request (it is being submitted now, or the panel closes)."""
        self._debounce.stop()

    def new_id(self) -> int:
        """The id of a render being submitted now."""
        request_id = next(self._ids)
        self._latest = request_id
        self._started[request_id] = time.perf_counter()
        self.stats["submitted"] += 1
        return request_id

    def accept(self, request_id: int) -> bool:
        """Whether an answer to ``request_id`` is newer than the image on screen (then it is shown)."""
        self.stats["rendered"] += 1
        if request_id <= self._shown:
            self.stats["stale"] += 1  # an older answer than what is on screen
            return False
        self._shown = request_id
        return True

    def shown(self, request_id: int) -> None:
        """The answer to ``request_id`` is on screen: record its latency."""
        started = self._started.pop(request_id, None)
        for stale in [k for k in self._started if k < request_id]:
            del self._started[stale]
        if started is not None:
            self.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        self.stats["shown"] += 1

    def failed(self) -> None:
        """The newest request failed and will never be shown: stop waiting for it."""
        self._shown = max(self._shown, self._latest)
