"""``workbench runs``: the runs with their true state; one run's checkpoints; stop or kill one."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from workbench.commands import CommandError

VERB = "runs"
HELP = "list the runs (status, model, strategy, last loss); RUN --checkpoints, --stop, --kill"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default=None, metavar="RUN",
                        help="one run (a name in the runs folder, or a run folder)")
    parser.add_argument("--checkpoints", action="store_true",
                        help="list RUN's checkpoints with step, time and size")
    parser.add_argument("--stop", action="store_true",
                        help="stop RUN gracefully (finish the step, save a checkpoint)")
    parser.add_argument("--kill", action="store_true", help="end every process of RUN now")
    parser.add_argument("--fetch", metavar="STEP", default=None,
                        help="a remote run: copy the checkpoint of STEP here (for the studio and "
                        "the playground)")
    parser.add_argument("--follow", action="store_true",
                        help="a remote run: mirror it here until it ends (resumes where the copy ends)")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def _when(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else "?"


def _run_dir(args: argparse.Namespace) -> Any:
    from backends.runs import RunDir, RunDirError, open_run

    path = Path(args.run).expanduser()
    if not path.is_dir():
        path = Path(args.runs_dir) / args.run
    try:
        return open_run(path)
    except RunDirError as exc:
        if not path.is_dir():
            raise CommandError(f"no run {args.run!r} in {args.runs_dir}: see workbench runs") from exc
        return RunDir(path)


def run(args: argparse.Namespace) -> int:
    from backends import launch

    if args.run is None:
        if args.checkpoints or args.stop or args.kill or args.follow:
            raise CommandError("--checkpoints, --stop, --kill and --follow need a RUN: "
                               "workbench runs RUN --stop")
        return _list(launch.list_runs(args.runs_dir), args)
    run_dir = _run_dir(args)
    from backends.remote.record import is_remote

    if is_remote(run_dir):
        return _remote(run_dir, args)
    if args.follow:
        raise CommandError(f"{run_dir.name} runs on this machine: watch it with workbench or its folder")
    if args.stop or args.kill:
        return _end(run_dir, args)
    if args.checkpoints:
        return _checkpoints(run_dir, args)
    summary = launch.summary_for(run_dir.path)
    return _list([summary], args)


def _list(runs: list[Any], args: argparse.Namespace) -> int:
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
        loss = f"{r.last_loss:.4g}" if isinstance(r.last_loss, float | int) else "-"
        step = r.last_step if r.last_step is not None else "-"
        note = r.problem or r.reason
        print(f"{r.name:30} {r.status:10} {_when(r.created)}  {r.model or '-':10} "
              f"{r.strategy or '-':8} world={r.world_size or '-'} step={step} loss={loss}"
              + (f"  ({note})" if note else "")
              + ("  [tensorboard log]" if getattr(r, "source", "") == "tensorboard" else ""))
    return 0


def _checkpoints(run_dir: Any, args: argparse.Namespace) -> int:
    """A run's checkpoints: here, or a remote run's on its host (those fetched here marked)."""
    from backends import launch

    found = launch.run_checkpoints(run_dir)
    if args.json:
        print(json.dumps([{"step": c.step, "path": str(c.path), "saved": c.saved,
                           "size_bytes": c.size_bytes, "here": c.host is None} for c in found],
                         indent=2))
        return 0
    if not found:
        print(f"{run_dir.name} has no checkpoint yet")
    for c in found:
        where = str(c.path) if c.host is None else f"on {c.host}: --fetch {c.step}"
        print(f"step {c.step:>8}  {_when(c.saved)}  {c.size_bytes / 2**20:8.1f} MiB  {where}")
    return 0


def _remote(run_dir: Any, args: argparse.Namespace) -> int:
    """Stop, kill or follow a run that runs on a remote host (its state: what the host says)."""
    from backends import launch
    from backends.remote.ssh import SSHError
    from workbench.commands.train import follow_remote

    try:
        if args.stop or args.kill:
            state = launch.run_state(run_dir)
            if state.status != "running":
                raise CommandError(f"{run_dir.name} is not running (it is {state.status}): nothing to "
                                   + ("kill" if args.kill else "stop"))
            if args.kill:
                launch.kill(run_dir)
            else:
                launch.stop(run_dir)
            print(f"{run_dir.name}: {launch.run_state(run_dir).status}")
            return 0
        if args.fetch is not None:
            from backends.remote.launch import fetch_checkpoint

            print(f"fetched {fetch_checkpoint(run_dir, args.fetch)}")
            return 0
        if args.checkpoints:
            return _checkpoints(run_dir, args)
        if args.follow:
            status = follow_remote(run_dir, show_progress=not args.json)
            print(json.dumps({"run_dir": str(run_dir.path), "status": status}) if args.json
                  else f"{run_dir.name}: {status}")
            return 0
        _sync(run_dir)
    except (launch.LaunchError, SSHError) as exc:
        raise CommandError(str(exc)) from exc
    return _list([launch.summary_for(run_dir.path)], args)


def _sync(run_dir: Any) -> None:
    """Bring a remote run's copy and state up to date once (the last known ones if unreachable)."""
    import sys

    from backends.remote.launch import remote_state
    from backends.remote.mirror import Mirror
    from backends.remote.ssh import SSHError

    mirror = Mirror(run_dir)
    try:
        mirror.poll()
        remote_state(run_dir, mirror.connect())
    except SSHError as exc:
        print(f"showing the last known state: {exc}", file=sys.stderr)
    finally:
        mirror.close()


def _end(run_dir: Any, args: argparse.Namespace) -> int:
    from backends import launch

    if not launch.is_alive(run_dir):
        state = launch.run_state(run_dir)
        raise CommandError(f"{run_dir.name} is not running (it is {state.status}): nothing to "
                           + ("kill" if args.kill else "stop"))
    if args.kill:
        pids = launch.kill(run_dir)
        print(f"killed {run_dir.name} (pids {', '.join(map(str, pids)) or 'none left'})")
    else:
        ended = launch.stop(run_dir, sigterm_after=10.0)
        launch.wait(run_dir, timeout=60.0)
        print(f"{run_dir.name}: {launch.run_state(run_dir).status}"
              + ("" if ended or not launch.is_alive(run_dir) else " (still ending)"))
    return 0
