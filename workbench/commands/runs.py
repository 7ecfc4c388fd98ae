"""``workbench runs``: list the runs in the runs folder with their status and last loss."""

from __future__ import annotations

import argparse
import datetime as dt
import json

VERB = "runs"
HELP = "list the runs in the runs folder (status, model, strategy, last loss)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    from backends.runs import list_runs

    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([
            {**{k: v for k, v in vars(r).items() if k != "path"}, "path": str(r.path)}
            for r in runs
        ], indent=2))
        return 0
    if not runs:
        print(f"no runs in {args.runs_dir}")
        return 0
    for r in runs:
        when = dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M") if r.created else "?"
        loss = f"{r.last_loss:.4g}" if isinstance(r.last_loss, float | int) else "-"
        print(f"{r.name:30} {r.status:9} {when}  {r.model or '-':10} {r.strategy or '-':8} "
              f"world={r.world_size or '-'} loss={loss}" + (f"  ({r.problem})" if r.problem else "")
              + ("  [tensorboard log]" if getattr(r, "source", "") == "tensorboard" else ""))
    return 0
