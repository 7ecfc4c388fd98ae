"""Rules of the house: what each floor may import, room sizes, docstrings, lint and types.

The floors, from the ground up (see docs/architecture.md):

- ``backends/``: engines; plain Python, numpy, torch and the optional integrations.
- ``workbench/`` shared infrastructure (task runner, watcher, settings, theme,
  widgets, the panel contract): Qt plus the engines.
- ``panels/``: one folder per panel; Qt plus the engines plus the shared
  infrastructure; never another panel's folder, never the window or the CLI.
- the top of ``workbench/`` (``main_window``, ``app``, ``cli``, ``__main__``,
  ``commands/``): assembles everything.

Each floor has an allow-list of what it may import; anything else is an offence,
so a new dependency is a decision written down here, not an accident.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("backends", "workbench", "panels", "resources")
# Modules of workbench/ that assemble the application: they may import anything of ours.
TOP_OF_WORKBENCH = ("workbench.main_window", "workbench.app", "workbench.cli",
                    "workbench.__main__", "workbench.commands")

# Third-party packages each floor may import (the standard library is always allowed).
ENGINE_LIBRARIES = {
    "numpy", "torch", "PIL", "safetensors", "tomli_w", "sklearn",
    # optional extras, imported only when used: tensorboard, hf, diffusers, ssh, video
    "tensorboard", "google_crc32c", "transformers", "tokenizers", "diffusers", "asyncssh",
    "imageio", "imageio_ffmpeg",
}
QT_LIBRARIES = {"PySide6", "pyqtgraph"}
ALLOWED_THIRD_PARTY = {
    "backends": ENGINE_LIBRARIES,
    "workbench": QT_LIBRARIES | {"numpy"},
    # Panels may import torch lazily (on a worker, or to turn an image into a tensor);
    # the GUI-import test below keeps it out of import time.
    "panels": QT_LIBRARIES | {"numpy", "torch"},
    "top": QT_LIBRARIES | ENGINE_LIBRARIES,
}

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> str:
    if module.startswith(TOP_OF_WORKBENCH):
        return "top"
    return module.split(".")[0]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # walks function bodies too: lazy imports count
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _may_import_ours(importer: str, imported: str) -> bool:
    floor, target = _floor(importer), _floor(imported)
    if floor == "top" or target == "resources":
        return True
    if floor == "backends":
        return target == "backends"
    if floor == "workbench":
        return target in ("backends", "workbench")
    # panels: engines, shared infrastructure, the panels package itself and its own folder
    if target in ("backends", "workbench"):
        return True
    own_folder = ".".join(importer.split(".")[:2])
    return imported == "panels" or imported.startswith(own_folder + ".") or imported == own_folder \
        or imported == "panels.not_built"


def _python_files(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def test_each_floor_imports_only_what_its_allow_list_names():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    offences = []
    for path in _python_files("backends", "workbench", "panels"):
        importer = _module_name(path)
        for imported in sorted(_imported_modules(path)):
            top = imported.split(".")[0]
            if top in stdlib:
                continue
            if top in OURS:
                allowed = _may_import_ours(importer, imported)
            else:
                allowed = top in ALLOWED_THIRD_PARTY[_floor(importer)]
            if not allowed:
                offences.append(f"{importer} imports {imported}")
    assert offences == []


def test_the_allow_lists_catch_a_floor_breach():
    """The rule itself: an engine importing Qt, a panel importing another panel or the window."""
    assert not _may_import_ours("backends.runs.columns", "workbench.tasks")
    assert not _may_import_ours("workbench.tasks", "panels.monitor.panel")
    assert not _may_import_ours("panels.playground.panel", "panels.latent.canvas")
    assert not _may_import_ours("panels.monitor.panel", "workbench.main_window")
    assert _may_import_ours("panels.playground.panel", "workbench.widgets.form")
    assert "PySide6" not in ALLOWED_THIRD_PARTY["backends"]


def test_no_room_over_500_lines_and_no_function_over_60():
    """Tests excepted: every module of the project, benches and tools included."""
    too_long = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("tests", "build") or any(p.startswith(".") for p in relative.parts):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{relative}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{relative}:{node.lineno} {node.name}() {length} lines")
    assert too_long == []


def test_every_module_opens_with_a_docstring():
    missing = []
    for path in _python_files("backends", "workbench", "panels", "resources", "bench", "tools"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.stat().st_size and ast.get_docstring(tree) is None:
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_every_panel_is_a_folder_with_its_panel_module():
    from panels import PANELS

    for spec in PANELS:
        folder = ROOT / "panels" / spec.name
        assert (folder / "panel.py").is_file(), f"panels/{spec.name}/panel.py is missing"
        assert f"class {spec.class_name}(" in (folder / "panel.py").read_text(encoding="utf-8")
    loose = [p.name for p in (ROOT / "panels").glob("*_panel.py")]
    assert loose == []


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


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.mark.skipif(_tool("ruff") is None, reason="ruff is installed with the dev extra")
def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", str(ROOT)], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(_tool("mypy") is None, reason="mypy is installed with the dev extra")
def test_the_engines_and_the_application_floor_type_check():
    """mypy on backends/ and workbench/ (the files and settings are in pyproject.toml)."""
    result = subprocess.run([_tool("mypy"), "--no-incremental"], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_the_gui_modules_import_without_torch():
    """The window must appear fast: torch is imported by engines on workers, not at GUI import."""
    code = (
        "import importlib, pkgutil, sys, panels, workbench.app\n"
        "for m in pkgutil.walk_packages(panels.__path__, 'panels.'):\n"
        "    importlib.import_module(m.name)\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, "a GUI module imports torch at import time"
