"""What the main window asks of a panel: the typed contract every ``<Name>Panel`` meets.

A panel is a ``QWidget`` built from an :class:`~workbench.context.AppContext`.
The window calls :meth:`Panel.shutdown` when it closes, so every task slot,
watcher and timer of the panel stops; runs and files are left as they are.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Panel(Protocol):
    """The calls the main window makes on every panel."""

    def shutdown(self) -> None:
        """Stop this panel's work (task slots, watchers, timers); safe to call twice."""
        ...
