"""``workbench train``: launch a training run from a preset or a TOML config and report how it ended."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workbench.commands import CommandError

VERB = "train"
HELP = "train a model from a preset or TOML config (torchrun); --json prints a summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        metavar="PRESET_OR_TOML",
        help="a preset name (gpt-tiny, dcgan-tiny, vae-tiny, classifier-tiny), a .toml file, "
        "or with --resume a run folder",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set strategy=fsdp --set nproc=2 "
        "--set model_config.n_layer=4 (repeatable)",
    )
    parser.add_argument("--resume", action="store_true",
                        help="continue the run folder given as PRESET_OR_TOML from its last checkpoint")
    parser.add_argument("--detach", action="store_true",
                        help="start the run and return at once; watch it in the GUI or its run folder")
    parser.add_argument(
        "--print-command", choices=("torchrun", "nodes", "slurm"), default=None,
        help="print the command(s) that would run (one per node, or a Slurm script) and exit",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _load_config(args: argparse.Namespace) -> tuple[Any, Path | None]:
    from backends.runs import RunDirError, open_run, read_config
    from backends.train.config import TrainConfig

    source = args.config
    if args.resume:
        try:
            run = open_run(source)
            config = TrainConfig.from_dict(read_config(run))
        except RunDirError as exc:
            raise CommandError(f"--resume needs a run folder: {exc}") from exc
        return config.with_overrides([*args.overrides, f"resume={json.dumps(str(run.path))}"]), run.path
    path = Path(source)
    if not path.suffix and not path.exists():
        from resources import resource_path

        preset = resource_path("presets", f"{source}.toml")
        if not preset.is_file():
            names = sorted(p.name[:-5] for p in resource_path("presets").iterdir() if p.name.endswith(".toml"))
            raise CommandError(
                f"no preset named {source!r}: choose one of {', '.join(names)} or give a .toml file"
            )
        config = TrainConfig.from_dict(__import__("tomllib").loads(preset.read_text(encoding="utf-8")))
    else:
        if not path.is_file():
            raise CommandError(f"config file {path} does not exist")
        config = TrainConfig.from_toml(path)
    return config.with_overrides(args.overrides), None


def _summary(run: Any, status: str) -> dict[str, Any]:
    from backends.runs import read_events

    events = read_events(run)
    end = next((e for e in reversed(events) if e.get("kind") in ("finished", "stopped", "failed")), {})
    summary: dict[str, Any] = {
        "run_dir": str(run.path),
        "status": status,
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
    from backends.checkpoint import CheckpointError
    from backends.data.errors import DataError
    from backends.models import ConfigError
    from backends.runs import DEFAULT_RUNS_DIR, RunDir, RunDirError, create_run, write_toml_atomic
    from backends.train.config import TrainConfigError, validate
    from backends.train.data import check_data

    try:
        config, resume_dir = _load_config(args)
        if config.data.path:
            config.data.path = str(Path(config.data.path).expanduser().absolute())
        if config.resume:
            config.resume = str(Path(config.resume).expanduser().absolute())
        validate(config)
        if args.print_command:
            target = Path(getattr(args, "runs_dir", DEFAULT_RUNS_DIR)) / (config.name or config.model)
            print(_export(config, target, args.print_command, launch))
            return 0
        data = check_data(config)
        if config.resume:
            from backends.checkpoint import check_resumable
            from backends.models import MODELS
            from backends.parallel import STRATEGIES

            full = MODELS[config.model].config_class.from_dict({**config.model_config, **data.model_fields})
            check_resumable(config.resume, model=config.model, model_config=full.to_dict(),
                            sharded=STRATEGIES[config.strategy].sharded)
    except (ConfigError, TrainConfigError, DataError, CheckpointError) as exc:
        raise CommandError(str(exc)) from exc
    try:
        if resume_dir is not None:
            run_dir = RunDir(resume_dir)
            write_toml_atomic(run_dir.config_path, config.to_dict())
        else:
            run_dir = create_run(getattr(args, "runs_dir", DEFAULT_RUNS_DIR), config.name or config.model,
                                 config.to_dict())
    except RunDirError as exc:
        raise CommandError(str(exc)) from exc
    if config.nnodes > 1:
        raise CommandError(
            f"nnodes={config.nnodes}: start each node's command yourself "
            "(workbench train ... --print-command nodes, or --print-command slurm)"
        )
    info = launch.launch(run_dir, config)
    if args.detach:
        out = {"run_dir": str(run_dir.path), "status": "running", "pid": info.pid, "command": info.command}
        print(json.dumps(out) if args.json else f"started {run_dir.path} (pid {info.pid})")
        return 0
    if not args.json:
        print(f"training in {run_dir.path}; Ctrl-C stops it (a checkpoint is kept)", file=sys.stderr)
    try:
        status = launch.wait(info)
    except KeyboardInterrupt:
        print("stopping: finishing the step and saving a checkpoint...", file=sys.stderr)
        launch.stop(run_dir, sigterm_after=10.0)
        status = launch.wait(info)
    summary = _summary(run_dir, status)
    if args.json:
        print(json.dumps(summary))
    else:
        loss = summary["final_loss"]
        print(f"{status}: {run_dir.path} at step {summary['step']}"
              + (f", loss {loss:.4f}" if isinstance(loss, float) else ""))
        if status == "failed":
            failure = summary["failure"]
            print(f"rank {failure['rank']} failed (exit code {failure['exit_code']}): "
                  f"{failure['message']}", file=sys.stderr)
    return 0 if status in ("finished", "stopped") else 1


def _export(config: Any, run_dir: Path, kind: str, launch: Any) -> str:
    if kind == "slurm":
        return launch.build_slurm_script(config, run_dir)
    env = launch.worker_env(config)
    if kind == "nodes" or config.nnodes > 1:
        return "\n".join(launch.shell_line(c, env) for c in launch.build_node_commands(config, run_dir))
    return launch.shell_line(launch.build_command(config, run_dir), env)
