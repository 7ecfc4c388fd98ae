"""Headless verbs of the ``workbench`` command, one module per verb.

Each module defines ``VERB`` (the word typed), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). The
command line finds them by listing this package, so a new engine adds its verb
by adding a module here. A verb prints data as JSON when given ``--json``,
reports bad input as one line on stderr, and returns a non-zero status.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


class CommandError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


def discover() -> dict[str, ModuleType]:
    """The verb modules of this package, by verb, in alphabetical order."""
    verbs: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        verbs[module.VERB] = module
    return verbs
