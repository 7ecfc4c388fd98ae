"""``workbench screenshot OUT.png``: render the main window offscreen to a PNG."""

from __future__ import annotations

import argparse
import os
import re

from workbench.commands import CommandError

VERB = "screenshot"
HELP = "render the main window to a PNG file (offscreen; for docs and reviews)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--panel", help="panel to bring to the front: training, monitor, "
                        "latent, playground or evaluation")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT")


def run(args: argparse.Namespace) -> int:
    from panels import PANELS

    match = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not match or not all(100 <= int(v) <= 8000 for v in match.groups()):
        raise CommandError(f"--size {args.size!r} is not WIDTHxHEIGHT (100 to 8000), e.g. 1280x800")
    names = [p.name for p in PANELS]
    if args.panel is not None and args.panel not in names:
        raise CommandError(f"--panel {args.panel!r} is unknown; choose one of {', '.join(names)}")
    if not args.out.lower().endswith(".png"):
        raise CommandError(f"{args.out!r} does not end in .png")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from pathlib import Path

    from PySide6.QtCore import QSize

    from workbench.app import render_screenshot

    width, height = (int(v) for v in match.groups())
    try:
        out = render_screenshot(Path(args.out), args.panel, QSize(width, height), args.runs_dir)
    except OSError as exc:
        raise CommandError(f"could not write {args.out}: {exc}") from exc
    print(out)
    return 0
