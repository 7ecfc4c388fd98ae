"""One task slot per panel: run engine calls on a worker thread, results on the GUI thread.

A :class:`TaskRunner` runs at most one callable at a time on its own worker
thread and keeps at most one request waiting behind it. A new request replaces
the waiting one (a stale slider position is never rendered) and, when asked,
cancels the running one. Progress, results and errors come back through
queued signals, so callbacks run on the GUI thread and may touch widgets;
nothing here ever touches a widget from the worker.

Partial results: an engine whose signature has a ``partial`` parameter gets a
callable; every value it passes (a streamed token, a finished column) comes
back on the GUI thread to ``on_partial`` in order, before the final result,
and is dropped once the request is cancelled or superseded.

Errors: a request without its own ``on_error`` reports to the runner's default
route (the message bar, when the runner came from ``AppContext.task_runner``),
so no failure is silent and panels do not each wire their own.

Cancellation follows ``backends.progress``: the ``progress`` callback handed to
the engine raises :class:`~backends.progress.Cancelled` once cancel is asked,
so an engine only has to report progress to be cancellable. A cancelled or
superseded request's result is dropped.

Usage::

    runner = TaskRunner(parent=self)
    runner.submit(backends.evaluate.evaluate_groups, table, on_done=self._show)
    ...
    runner.shutdown()   # when the panel closes: cancel and wait for the worker
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from backends.progress import Cancelled

_ids = itertools.count(1)
# Progress signals are throttled to this interval so a tight engine loop cannot
# flood the GUI thread's event queue.
_PROGRESS_INTERVAL_S = 0.05


@dataclass
class _Request:
    """One submitted call and what to do with its outcome."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException, str], None] | None
    on_progress: Callable[[float], None] | None
    on_partial: Callable[[Any], None] | None = None
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event)
    last_progress_emit: float = 0.0


class TaskRunner(QObject):
    """Runs backend callables one at a time on a worker; the newest waiting request wins.

    Signals
    -------
    sig_started(int)            a request began running (its id)
    sig_progress(int, float)    progress of a running request, fraction in [0, 1]
    sig_partial(int, object)    a running request sent a partial result
    sig_done(int, object)       a request finished with this result
    sig_failed(int, str)        a request raised; the text is a one-line message
    sig_idle()                  nothing is running or waiting any more
    """

    sig_started = Signal(int)
    sig_progress = Signal(int, float)
    sig_partial = Signal(int, object)
    sig_done = Signal(int, object)
    sig_failed = Signal(int, str)
    sig_idle = Signal()

    # Private twins emitted from the worker thread; Qt queues them onto the
    # thread this object lives in (the GUI thread).
    _sig_worker_progress = Signal(int, float)
    _sig_worker_partial = Signal(int, object)
    _sig_worker_finished = Signal(int, object, object, str)

    def __init__(
        self,
        parent: QObject | None = None,
        name: str = "task",
        report_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._name = name
        self._report_error = report_error
        self._running: _Request | None = None
        self._waiting: _Request | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._sig_worker_progress.connect(self._on_worker_progress)
        self._sig_worker_partial.connect(self._on_worker_partial)
        self._sig_worker_finished.connect(self._on_worker_finished)

    # ------------------------------------------------------------ public API

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        supersede: bool = False,
        **kwargs: Any,
    ) -> int:
        """Queue ``fn(*args, **kwargs)``; returns the request id.

        ``fn`` gets a ``progress`` keyword when its signature has one, and a
        ``partial`` keyword (send a partial result) when it has that. A request
        already waiting is dropped in favour of this one; with ``supersede``
        the running request is asked to cancel too (for interactive views
        where only the newest input matters).
        """
        if self._closed:
            raise RuntimeError("TaskRunner was shut down")
        request = _Request(fn, args, kwargs, on_done, on_error, on_progress, on_partial)
        self._waiting = request  # replaces (drops) any stale waiting request
        if supersede and self._running is not None:
            self._running.cancel.set()
        if self._running is None:
            self._start_next()
        return request.id

    def cancel(self) -> None:
        """Drop the waiting request and ask the running one to stop."""
        self._waiting = None
        if self._running is not None:
            self._running.cancel.set()

    def is_busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything and wait for the worker; True if it stopped in time."""
        self._closed = True
        self.cancel()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._running = None
        return True

    # ------------------------------------------------------------ internals

    def _start_next(self) -> None:
        request, self._waiting = self._waiting, None
        self._running = request
        if request is None:
            self.sig_idle.emit()
            return
        self._thread = threading.Thread(
            target=self._work, args=(request,), name=f"workbench-{self._name}-{request.id}",
            daemon=True,
        )
        self.sig_started.emit(request.id)
        self._thread.start()

    def _work(self, request: _Request) -> None:
        """Runs on the worker thread: call the engine, send the outcome back."""

        def progress(fraction: float) -> None:
            if request.cancel.is_set():
                raise Cancelled()
            now = time.monotonic()
            if now - request.last_progress_emit >= _PROGRESS_INTERVAL_S or fraction >= 1.0:
                request.last_progress_emit = now
                self._sig_worker_progress.emit(request.id, float(fraction))

        def partial(value: Any) -> None:
            if request.cancel.is_set():
                raise Cancelled()
            self._sig_worker_partial.emit(request.id, value)

        kwargs = dict(request.kwargs)
        parameters = _parameters(request.fn)
        if "progress" in parameters:
            kwargs.setdefault("progress", progress)
        if "partial" in parameters:
            kwargs.setdefault("partial", partial)
        result: Any = None
        error: BaseException | None = None
        details = ""
        try:
            result = request.fn(*request.args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI
            error = exc
            details = traceback.format_exc()
        self._sig_worker_finished.emit(request.id, result, error, details)

    def _still_wanted(self, request_id: int) -> _Request | None:
        """The running request with this id, unless it was cancelled or superseded meanwhile."""
        request = self._running
        if request is None or request.id != request_id or request.cancel.is_set():
            return None
        return request

    def _on_worker_progress(self, request_id: int, fraction: float) -> None:
        request = self._still_wanted(request_id)
        if request is None:
            return
        if request.on_progress is not None:
            request.on_progress(fraction)
        self.sig_progress.emit(request_id, fraction)

    def _on_worker_partial(self, request_id: int, value: Any) -> None:
        request = self._still_wanted(request_id)
        if request is None:
            return
        if request.on_partial is not None:
            request.on_partial(value)
        self.sig_partial.emit(request_id, value)

    def _on_worker_finished(
        self, request_id: int, result: Any, error: BaseException | None, details: str
    ) -> None:
        request = self._running
        if request is None or request.id != request_id:
            return
        if self._thread is not None:
            self._thread.join()  # it has already returned; this only reaps it
            self._thread = None
        self._running = None
        delivered = not request.cancel.is_set() and not self._closed
        if delivered and error is None:
            if request.on_done is not None:
                request.on_done(result)
            self.sig_done.emit(request_id, result)
        elif delivered and error is not None and not isinstance(error, Cancelled):
            message = error_message(error)
            if request.on_error is not None:
                request.on_error(error, details)
            elif self._report_error is not None:
                self._report_error(message)
            self.sig_failed.emit(request_id, message)
        if not self._closed:
            self._start_next()


def error_message(error: BaseException) -> str:
    """A one-line message for a person: the exception's own text, else its type."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text or type(error).__name__


def _parameters(fn: Callable[..., Any]) -> set[str]:
    """The keyword names ``fn`` accepts (empty when Python cannot tell)."""
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()
