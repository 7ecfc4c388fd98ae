"""Rules of the house that keep the floors apart and the code tidy."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_BACKENDS = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "workbench", "panels")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # walks function bodies too: lazy imports count
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backends_import_no_qt_and_nothing_from_higher_floors():
    offenders = []
    for path in sorted((ROOT / "backends").rglob("*.py")):
        for module in _imported_modules(path):
            if module.split(".")[0] in FORBIDDEN_IN_BACKENDS:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_panels_never_import_the_main_window_or_the_cli():
    offenders = []
    for path in sorted((ROOT / "panels").rglob("*.py")):
        for module in _imported_modules(path):
            if module in ("workbench.main_window", "workbench.app", "workbench.cli"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_every_module_opens_with_a_docstring():
    missing = []
    for package in ("backends", "workbench", "panels", "resources"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if path.stat().st_size and ast.get_docstring(tree) is None:
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_importing_backends_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, backends\n"
        "for m in pkgutil.walk_packages(backends.__path__, 'backends.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is installed with the dev extra")
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gui_modules_import_without_torch():
    """The window must appear fast: torch is imported by engines on workers, not at GUI import."""
    code = (
        "import importlib, pkgutil, sys, panels, workbench.app\n"
        "for m in pkgutil.walk_packages(panels.__path__, 'panels.'):\n"
        "    importlib.import_module(m.name)\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, "a GUI module imports torch at import time"
