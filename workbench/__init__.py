"""Workbench: the application core shared by every panel.

Importing this package makes pyqtgraph use PySide6 whatever other Qt binding
is installed (pyqtgraph would otherwise pick PyQt6 first). It imports no Qt
and no torch itself, so it is cheap to import.
"""

import os

__version__ = "0.1.0"

# pyqtgraph reads this when it is first imported; PySide6 is the only binding
# the workbench is tested with, so it is forced, not merely defaulted.
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"
