"""Helpers the GUI tests share: a Monitor panel over a runs folder, typing into a launcher form.

The fixtures built on these (``runs_context``, ``make_monitor``) are in
``tests/panels/conftest.py``; tests outside ``tests/panels`` import the
helpers from here.
"""

from __future__ import annotations

from typing import Any

MONITOR_SIZE = (1300, 800)


def open_monitor(qtbot: Any, context: Any, show: bool = True) -> Any:
    """A Monitor panel over ``context``'s runs folder, given to qtbot (the caller shuts it down)."""
    from panels.monitor.panel import MonitorPanel

    panel = MonitorPanel(context)
    qtbot.addWidget(panel)
    if show:
        panel.resize(*MONITOR_SIZE)
        panel.show()
    return panel


def edit(qtbot: Any, panel: Any, key: str, value: Any) -> None:
    """Type a value into a launcher form's field the way a user would, then wait for the check."""
    editor = panel.form.editors[key]
    if hasattr(editor, "setValue"):
        editor.setValue(value)
    elif hasattr(editor, "setCurrentText"):
        editor.setCurrentText(value)
    else:
        editor.setText(value)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=30000)
