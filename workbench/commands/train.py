"""``workbench train``: launch, resume or export a training run through the launch service.

A built-in model from a preset or TOML config, or a user's own script
(``--script FILE.py`` / ``--module pkg.mod``, its arguments after ``--``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from workbench.commands import CommandError

VERB = "train"
HELP = "train a model from a preset or TOML config (torchrun); --json prints a summary"
_PROGRESS_INTERVAL_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", default=None,
        metavar="PRESET_OR_TOML",
        help="a preset name (gpt-tiny, dcgan-tiny, vae-tiny, classifier-tiny), a .toml file, "
        "or with --resume a run name or run folder",
    )
    parser.add_argument("--script", metavar="FILE.py", default=None,
                        help="train with your own script under torchrun; its arguments go after --")
    parser.add_argument("--module", metavar="PKG.MOD", default=None,
                        help="like --script, for a module run as python -m PKG.MOD")
    parser.set_defaults(accepts_passthrough=True)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set strategy=fsdp --set nproc=2 "
        "--set model_config.n_layer=4 (repeatable)",
    )
    parser.add_argument("--resume", action="store_true",
                        help="continue the run named by PRESET_OR_TOML from its latest checkpoint")
    parser.add_argument("--from-checkpoint", metavar="STEP", default=None,
                        help="with --resume: the checkpoint step to continue from "
                        "(see workbench runs RUN --checkpoints)")
    parser.add_argument("--detach", action="store_true",
                        help="start the run and return at once; watch it in the GUI or its run folder")
    parser.add_argument(
        "--print-command", choices=("torchrun", "nodes", "slurm"), default=None,
        help="prepare the run folder and print the command(s) that start it (one per node, or a "
        "Slurm script); run them as printed",
    )
    parser.add_argument("--host", default=None, metavar="NAME",
                        help="start the run on a saved remote host (see workbench hosts) and mirror "
                        "it here as it trains; with --script, the working folder is sent along "
                        "(up to $WORKBENCH_UPLOAD_LIMIT_MB, default 100)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _load_config(source: str, overrides: list[str]) -> Any:
    import tomllib

    from backends.train.config import TrainConfig, scale_steps

    path = Path(source)
    if not path.suffix and not path.exists():
        from resources import resource_path

        preset = resource_path("presets", f"{source}.toml")
        if not preset.is_file():
            names = sorted(p.name[:-5] for p in resource_path("presets").iterdir()
                           if p.name.endswith(".toml"))
            raise CommandError(
                f"no preset named {source!r}: choose one of {', '.join(names)} or give a .toml file"
            )
        config = TrainConfig.from_dict(tomllib.loads(preset.read_text(encoding="utf-8")))
    else:
        if not path.is_file():
            raise CommandError(f"config file {path} does not exist")
        script = _script_toml(path)
        if script is not None:  # a script run's config (what --script --host sends to the host)
            return script.with_overrides(overrides)
        config = TrainConfig.from_toml(path)
    config = config.with_overrides(overrides)
    config.steps = scale_steps(config.steps)
    return config


def _script_toml(path: Path) -> Any:
    """A script run's config file as a ScriptConfig; ``None`` for a trainer config."""
    import tomllib

    from backends.launch.script import ScriptConfig, is_script_config

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the trainer config's reader says what is wrong with it
    return ScriptConfig.from_dict(data) if is_script_config(data) else None


def _scaled_overrides(overrides: list[str]) -> list[str]:
    """``--set steps=N`` as the steps scale says (see ``scale_steps``); the rest unchanged."""
    from backends.train.config import parse_assignment, scale_steps

    scaled = []
    for text in overrides:
        key, value = parse_assignment(text)
        scaled.append(f"steps={scale_steps(value)}" if key == "steps" and isinstance(value, int)
                      else text)
    return scaled


def _script_config(args: argparse.Namespace) -> Any:
    from backends.launch import ScriptConfig

    config = ScriptConfig(script=args.script or "", module=args.module or "",
                          args=list(args.passthrough), cwd=str(Path.cwd()))
    return config.with_overrides(args.overrides)


def _run_folder(source: str, runs_dir: Path) -> Path:
    """A run given by folder, or by name inside the runs folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if (runs_dir / source).is_dir():
        return runs_dir / source
    raise CommandError(f"no run {source!r}: give a run folder, or the name of a run in {runs_dir} "
                       "(see workbench runs)")


def _summary(run: Any, status: str) -> dict[str, Any]:
    from backends.launch import run_state
    from backends.runs import read_events

    events = read_events(run)
    end: dict[str, Any] = next((e for e in reversed(events)
                if e.get("kind") in ("finished", "stopped", "killed", "failed")), {})
    state = run_state(run, events)
    summary: dict[str, Any] = {
        "run_dir": str(run.path),
        "status": status,
        "reason": state.reason or None,
        "final_loss": end.get("final_loss"),
        "step": end.get("step"),
        "checkpoint": end.get("checkpoint"),
        "ranks": sorted(run.metrics_files()),
    }
    if status == "failed":
        summary["failure"] = {
            k: end.get(k) for k in ("rank", "exit_code", "signal", "message", "traceback", "log_tail")
        }
    return summary


def run(args: argparse.Namespace) -> int:
    from backends import launch
    from backends.train.config import TrainConfigError

    runs_dir = Path(getattr(args, "runs_dir", "runs"))
    scripted = bool(args.script or args.module)
    if args.passthrough and not scripted:
        raise CommandError("words after -- are your script's arguments: give --script FILE.py")
    if scripted and args.resume:
        raise CommandError("--resume takes a run: workbench train RUN --resume (no --script)")
    if args.config is None and not scripted:
        raise CommandError("give a preset, a .toml config, --script FILE.py or --module PKG.MOD")
    if args.config is not None and scripted:
        raise CommandError(f"give either {args.config!r} or --script/--module, not both")
    try:
        if args.resume:
            info = launch.resume(_run_folder(args.config, runs_dir),
                                 checkpoint=args.from_checkpoint,
                                 overrides=_scaled_overrides(args.overrides))
            print(_resume_line(info), file=sys.stderr)
        else:
            if args.from_checkpoint is not None:
                raise CommandError("--from-checkpoint needs --resume and a run to resume")
            config = (_script_config(args) if scripted
                      else _load_config(args.config, args.overrides))
            if args.print_command:
                return _print_command(config, runs_dir, args)
            if args.host:
                return _run_remote(config, runs_dir, args)
            info = launch.launch(config, runs_dir)
    except (launch.LaunchError, TrainConfigError) as exc:
        raise CommandError(str(exc)) from exc
    if args.detach:
        out = {"run_dir": str(info.run.path), "status": "running", "pid": info.pid,
               "command": info.command, "resumed_from": info.resumed_from}
        print(json.dumps(out) if args.json else f"started {info.run.path} (pid {info.pid})")
        return 0
    show_progress = not args.json and sys.stderr.isatty()
    if not args.json:
        where = _host_note(info.run)
        place = f"{where}, mirrored into" if where else " in"
        print(f"training{place} {info.run.path}; Ctrl-C stops it (a checkpoint is kept)",
              file=sys.stderr)
    try:
        status = _wait(info, show_progress)
    except KeyboardInterrupt:
        print("\nstopping: finishing the step and saving a checkpoint...", file=sys.stderr)
        launch.stop(info.run, sigterm_after=10.0)
        status = _wait(info, show_progress=False)
    summary = _summary(info.run, status)
    if args.json:
        print(json.dumps(summary))
    else:
        loss = summary["final_loss"]
        print(f"{status}: {info.run.path} at step {summary['step']}"
              + (f", loss {loss:.4f}" if isinstance(loss, float) else ""))
        if status == "failed" or status in ("killed", "lost"):
            print(f"{status}: {summary['reason']}", file=sys.stderr)
    return 0 if status in ("finished", "stopped") else 1


def _host_note(run: Any) -> str:
    """" on HOST" for a run that trains on a remote host (its folder here is the mirror)."""
    from backends.remote.record import read_remote

    remote = read_remote(run)
    return f" on {remote.get('host', '?')}" if remote else ""


def _resume_line(info: Any) -> str:
    """What a resume starts from; a script run picks its own checkpoint, so it is relaunched."""
    where = _host_note(info.run)
    if info.resumed_from is None:
        return (f"relaunching {info.run.path}{where}: the script resumes from whatever "
                "checkpoint it keeps")
    return f"resuming {info.run.path}{where} from the checkpoint of step {info.resumed_from}"


def _run_remote(config: Any, runs_dir: Path, args: argparse.Namespace) -> int:
    """Start the run on a saved host; unless detached, mirror it here until it ends."""
    from backends import launch
    from backends.remote.hosts import HostError, get_host
    from backends.remote.launch import launch_remote
    from backends.remote.record import read_remote

    try:
        host = get_host(args.host)
    except HostError as exc:
        raise CommandError(str(exc)) from exc
    run = launch_remote(config, runs_dir, host)
    remote_dir = (read_remote(run) or {}).get("remote_run_dir")
    if args.detach:
        out = {"run_dir": str(run.path), "status": "running", "host": host.name,
               "remote_run_dir": remote_dir, "job_id": (read_remote(run) or {}).get("job_id")}
        print(json.dumps(out) if args.json else
              f"started {run.name} on {host.name} ({remote_dir}); mirrored into {run.path}: "
              f"workbench runs {run.name} --follow")
        return 0
    if not args.json:
        print(f"training on {host.name} in {remote_dir}, mirrored into {run.path}; "
              "Ctrl-C stops it (a checkpoint is kept)", file=sys.stderr)
    try:
        status = follow_remote(run, show_progress=not args.json and sys.stderr.isatty())
    except KeyboardInterrupt:
        print("\nstopping on the host: finishing the step and saving a checkpoint...", file=sys.stderr)
        launch.stop(run)
        status = follow_remote(run, show_progress=False)
    summary = {**_summary(run, status), "host": host.name, "remote_run_dir": remote_dir}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{status} on {host.name}: {run.path} at step {summary['step']}")
        if status not in ("finished", "stopped"):
            print(f"{status}: {summary['reason']}", file=sys.stderr)
    return 0 if status in ("finished", "stopped") else 1


def follow_remote(run: Any, *, show_progress: bool) -> str:
    """Mirror a remote run until it ends; on a terminal, one line of progress (or "reconnecting")."""
    import threading

    from backends.remote.mirror import follow

    line = ProgressLine(run)
    link = {"state": "connected", "detail": ""}

    def on_link(state: str, detail: str) -> None:
        link.update(state=state, detail=detail)
        if state == "reconnecting":
            print(f"\rreconnecting: {detail}\033[K", end="", file=sys.stderr, flush=True)

    if not show_progress:
        return follow(run, on_link=on_link)
    stop = threading.Event()
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(status=follow(run, stop=stop, on_link=on_link)),
                              name="workbench-follow", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            text = line.update()
            if text and link["state"] == "connected":
                print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)
            worker.join(_PROGRESS_INTERVAL_S)
    finally:
        stop.set()
        worker.join()
        print(file=sys.stderr)
    return result.get("status", "running")


def _print_command(config: Any, runs_dir: Path, args: argparse.Namespace) -> int:
    from backends import launch

    run = launch.prepare(config, runs_dir)
    text = launch.export_commands(run, args.print_command)
    if args.json:
        print(json.dumps({"run_dir": str(run.path), "status": "created", "kind": args.print_command,
                          "commands": text, "exposure": launch.exposure_note(config)}))
        return 0
    print(text)
    print(f"prepared {run.path} (status created): run the command as printed to start it; "
          f"{launch.exposure_note(config)}", file=sys.stderr)
    return 0


def _wait(info: Any, show_progress: bool) -> str:
    """Wait for the run to end; on a terminal, keep one line of progress up to date."""
    from backends import launch
    from backends.remote.record import is_remote

    if is_remote(info.run):  # resumed on its host: follow it there
        return follow_remote(info.run, show_progress=show_progress)
    if not show_progress:
        return launch.wait(info)
    line = ProgressLine(info.run)
    while info.process is not None and info.process.poll() is None:
        text = line.update()
        if text:
            print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)
        time.sleep(_PROGRESS_INTERVAL_S)
    print(file=sys.stderr)
    return launch.wait(info)


class ProgressLine:
    """step / total, loss, steps/s and ETA from rank 0's records, read incrementally."""

    def __init__(self, run: Any) -> None:
        from backends.runs import JsonlTail, read_config

        self._tail = JsonlTail(run.metrics_path(0))
        try:
            self.total = int(read_config(run).get("steps") or 0)
        except (ValueError, TypeError, OSError):
            self.total = 0
        self._first: tuple[float, int] | None = None
        self._last: dict[str, Any] | None = None

    def update(self) -> str:
        for record in self._tail.read_new():
            if record.get("kind") == "train" and isinstance(record.get("step"), int):
                if self._first is None:
                    self._first = (float(record.get("t", time.time())), record["step"])
                self._last = record
        if self._last is None or self._first is None:
            return "starting..."
        step = self._last["step"]
        elapsed = float(self._last.get("t", time.time())) - self._first[0]
        rate = (step - self._first[1]) / elapsed if elapsed > 0 else 0.0
        loss = self._last.get("loss")
        eta = (self.total - step) / rate if rate > 0 and self.total else None
        parts = [f"step {step}/{self.total or '?'}"]
        if isinstance(loss, int | float):
            parts.append(f"loss {loss:.4f}")
        if rate > 0:
            parts.append(f"{rate:.2f} steps/s")
        if eta is not None:
            parts.append(f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        return "  ".join(parts)
