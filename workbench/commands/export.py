"""``workbench export RUN --tensorboard DIR --csv FILE``: a run's metrics for other tools."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.commands import CommandError

VERB = "export"
HELP = "write a run's metrics (every rank) and samples as TensorBoard event files and/or CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run folder, or a run's name in the runs folder")
    parser.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                        help="folder for the event files (tags rank<r>/<field>, rank 0 also "
                             "<field>); needs the tensorboard extra")
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE",
                        help="CSV file, one row per record (run, rank, kind, step, t, fields)")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace) -> int:
    if args.tensorboard is None and args.csv is None:
        raise CommandError("nothing to write: give --tensorboard DIR and/or --csv FILE")
    from backends.monitor_data import export_metrics_csv
    from backends.runs import RunDirError, open_run
    from backends.tensorboard import is_tensorboard_run
    from backends.tensorboard.events import TensorBoardMissing
    from backends.tensorboard.export import export_tensorboard

    target = Path(args.run)
    if not target.exists() and (args.runs_dir / args.run).is_dir():
        target = args.runs_dir / args.run
    if is_tensorboard_run(target):
        raise CommandError(f"{target} is a TensorBoard log already; the Monitor reads it as it is")
    try:
        run_dir = open_run(target)
    except RunDirError as exc:
        raise CommandError(str(exc)) from exc
    written: dict[str, Any] = {"run": str(run_dir.path)}
    if args.tensorboard is not None:
        try:
            written["tensorboard"] = {"dir": str(args.tensorboard),
                                      **export_tensorboard(run_dir, args.tensorboard)}
        except TensorBoardMissing as exc:
            raise CommandError(str(exc)) from exc
    if args.csv is not None:
        written["csv"] = {"file": str(args.csv), "rows": export_metrics_csv([run_dir], args.csv)}
    if args.json:
        print(json.dumps(written, indent=2))
        return 0
    _print_written(written)
    return 0


def _print_written(written: dict[str, Any]) -> None:
    """What was exported, one line per format."""
    if "tensorboard" in written:
        tb = written["tensorboard"]
        print(f"{tb['scalars']} scalars, {tb['images']} images, {tb['texts']} texts -> "
              f"{tb['dir']}  (tensorboard --logdir {tb['dir']})")
    if "csv" in written:
        print(f"{written['csv']['rows']} rows -> {written['csv']['file']}")
