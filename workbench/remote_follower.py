"""Keeps the local copies of remote runs up to date while the Monitor shows them.

A :class:`RemoteFollower` runs :func:`backends.remote.mirror.follow` for each
followed run on a thread of its own: the new bytes of the run's files come
over SSH into its local folder, where the Monitor's
:class:`~workbench.run_watcher.RunWatcher` reads them like any run's. Link
changes (``connected``, ``reconnecting``) and the end of a run reach the GUI
thread through queued signals.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from backends.runs import RunDir


class RemoteFollower(QObject):
    """Mirrors remote runs into their local folders.

    Signals
    -------
    sig_link(object, str, str)   run path, "connected" | "reconnecting", detail
    sig_ended(object, str)       run path, the state the run ended in (or the last one known)
    """

    sig_link = Signal(object, str, str)
    sig_ended = Signal(object, str)

    def __init__(self, parent: QObject | None = None, interval: float = 0.5) -> None:
        super().__init__(parent)
        self.interval = interval
        self._threads: dict[Path, tuple[threading.Thread, threading.Event]] = {}
        self.links: dict[Path, str] = {}

    def follow(self, run_path: Path) -> None:
        """Start mirroring the run (no-op when it is followed already)."""
        path = Path(run_path)
        current = self._threads.get(path)
        if current is not None and current[0].is_alive():
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._follow, args=(path, stop),
                                  name=f"workbench-remote-{path.name}", daemon=True)
        self._threads[path] = (thread, stop)
        thread.start()

    def _follow(self, path: Path, stop: threading.Event) -> None:
        from backends.remote.mirror import follow

        def on_link(link: str, detail: str) -> None:
            self.links[path] = link
            self.sig_link.emit(path, link, detail)

        try:
            status = follow(RunDir(path), interval=self.interval, stop=stop, on_link=on_link)
        except Exception as exc:  # noqa: BLE001 - reported, never raised on a thread
            self.sig_link.emit(path, "offline", str(exc))
            return
        if not stop.is_set():
            self.sig_ended.emit(path, status)

    def followed(self) -> list[Path]:
        return [p for p, (t, _s) in self._threads.items() if t.is_alive()]

    def unfollow(self, run_path: Path, timeout: float = 10.0) -> None:
        entry = self._threads.pop(Path(run_path), None)
        if entry is not None:
            entry[1].set()
            entry[0].join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every mirror thread (the runs keep running on their hosts)."""
        for path in list(self._threads):
            self._threads[path][1].set()
        for path in list(self._threads):
            self.unfollow(path, timeout)
