"""A long repaint loop must survive: it catches Qt bindings that corrupt reference counts.

PySide6 6.12.0 on CPython 3.11 drops a reference to ``None`` on every void Qt
call and aborts the interpreter after a few hundred plot repaints. A bad
binding fails here, in CI, instead of in a user's session.
"""

from __future__ import annotations

import sys

import numpy as np
import pyqtgraph as pg


def test_pyqtgraph_uses_pyside6():
    assert pg.Qt.QT_LIB == "PySide6"


def test_thousands_of_repaints_keep_none_alive(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    curve = widget.plot(pen="y")
    x = np.arange(1000)
    rng = np.random.default_rng(0)
    walks = [np.cumsum(rng.standard_normal(1000)) for _ in range(4)]
    none_refs_before = sys.getrefcount(None)
    for frame in range(2500):
        curve.setData(x, walks[frame % 4])
        widget.grab()
    assert np.array_equal(curve.getData()[1], walks[2499 % 4])
    # A healthy binding leaves None's count roughly where it was (immortal on 3.12+).
    assert sys.getrefcount(None) >= none_refs_before - 100
