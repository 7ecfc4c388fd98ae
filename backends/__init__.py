"""Engines of the workbench: plain Python, torch and numpy; never Qt.

Every function here takes plain values and returns plain values, so the GUI,
the command line and the tests call the same code. Nothing in this package
imports PySide6, pyqtgraph, ``workbench`` or ``panels`` (checked by a test).
"""
