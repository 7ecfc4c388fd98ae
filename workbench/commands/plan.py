"""``workbench plan``: parameters, per-rank memory, communication and compute of a training job.

The job is a preset name, a training config TOML (a run's ``config.toml``), or
a GPT shape given by flags. ``--strategy all`` compares every strategy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.commands import CommandError

VERB = "plan"
HELP = "predict parameters, per-rank memory, communication and compute before training"

_GIB = 2**30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", metavar="PRESET_OR_TOML",
        help="a preset name (e.g. gpt-tiny), a training config TOML, or a run folder; "
        "or describe a GPT with --layers/--d-model/--heads/--vocab/--seq-len",
    )
    shape = parser.add_argument_group("GPT shape (instead of a config)")
    shape.add_argument("--layers", type=int, metavar="L")
    shape.add_argument("--d-model", type=int, metavar="D", help="width (n_embd)")
    shape.add_argument("--heads", type=int, metavar="H")
    shape.add_argument("--vocab", type=int, metavar="V")
    shape.add_argument("--seq-len", type=int, metavar="S",
                       help="context (block size); with a config: the sequence length trained on")
    shape.add_argument("--mlp-ratio", type=int, default=4, metavar="R")
    shape.add_argument("--untied", action="store_true", help="output head not tied to the embedding")
    shape.add_argument("--no-bias", action="store_true", help="no biases in Linear/LayerNorm")
    job = parser.add_argument_group("training job (overrides the config)")
    job.add_argument("--strategy", metavar="S",
                     help="single, ddp, fsdp, fsdp_grad_op, tp, fsdp_tp, or all to compare")
    job.add_argument("--world-size", type=int, metavar="N", help="processes (GPUs) in all")
    job.add_argument("--tp", type=int, metavar="T", help="tensor-parallel degree (fsdp_tp)")
    job.add_argument("--batch-size", type=int, metavar="B",
                     help="micro-batch per data-parallel rank (sequences or images)")
    job.add_argument("--precision", metavar="P",
                     help="fp32, bf16 (= bf16-mixed), fp16, bf16-master, fp16-master, bf16-true")
    job.add_argument("--optimizer", metavar="O", help="adamw (default), adam, sgd")
    job.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    job.add_argument("--grad-accum", type=int, metavar="K")
    hw = parser.add_argument_group("hardware and budget")
    hw.add_argument("--gpu", metavar="NAME", help='a GPU of the table, e.g. "H100 SXM" (--list-gpus)')
    hw.add_argument("--gpu-memory", type=float, metavar="GIB", help="device memory in GiB")
    hw.add_argument("--gpu-table", type=Path, metavar="TOML", help="extra or edited GPU entries")
    hw.add_argument("--link", default="pcie4", metavar="NAME",
                    help="interconnect preset (nvlink4, pcie4, ib_ndr, ... ; --list-links)")
    hw.add_argument("--bandwidth", type=float, metavar="GB_S",
                    help="link bandwidth in GB/s per direction (instead of --link)")
    hw.add_argument("--tokens", type=float, metavar="N", help="training budget in tokens")
    hw.add_argument("--tokens-per-second", type=float, metavar="X",
                    help="measured throughput (all GPUs), for MFU and time")
    parser.add_argument("--list-gpus", action="store_true", help="print the GPU table and exit")
    parser.add_argument("--list-links", action="store_true", help="print the link presets and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from backends.plan import PlanError

    try:
        return _run(args)
    except PlanError as exc:
        raise CommandError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from backends.plan import LINKS, load_gpu_table
    from backends.plan.planner import build_plan, plan_strategies, strategy_table

    gpus = load_gpu_table(args.gpu_table)
    if args.list_gpus or args.list_links:
        return _print_lists(args, gpus, LINKS)
    layout, setup, notes = _job(args)
    gpu = None
    if args.gpu:
        gpu = gpus.get(args.gpu) or next(
            (g for n, g in gpus.items() if n.lower() == args.gpu.lower()), None)
        if gpu is None:
            raise CommandError(f"unknown GPU {args.gpu!r}: choose one of {', '.join(gpus)} "
                               "or add it with --gpu-table")
    _check_positive(args)
    kwargs: dict[str, Any] = {
        "link": args.bandwidth * 1e9 if args.bandwidth else args.link,
        "gpu": gpu,
        "device_memory": int(args.gpu_memory * _GIB) if args.gpu_memory else None,
        "tokens": args.tokens,
        "tokens_per_second": args.tokens_per_second,
        "notes": notes,
    }
    if args.bandwidth is not None and args.bandwidth <= 0:
        raise CommandError(f"--bandwidth must be above 0 GB/s, got {args.bandwidth}")
    if (args.strategy or "").lower() == "all":
        world = args.world_size or max(setup.world_size, 2)
        tp = args.tp or 2
        plans = plan_strategies(layout, dataclasses.replace(setup, strategy="single"), world, tp,
                                **kwargs)
        rows = strategy_table(plans)
        if args.json:
            print(json.dumps({"model": layout.kind, "params": layout.params,
                              "world_size": world, "strategies": rows}, indent=2))
        else:
            _print_table(layout, rows)
        return 0
    plan = build_plan(layout, setup, **kwargs)
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
    else:
        _print_plan(plan)
    return 0


def _check_positive(args: argparse.Namespace) -> None:
    """Refuse non-finite or non-positive hardware and budget numbers, naming the flag."""
    import math

    for flag, value, example in (
        ("--gpu-memory", args.gpu_memory, "80"),
        ("--tokens", args.tokens, "2e9"),
        ("--bandwidth", args.bandwidth, "450"),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise CommandError(f"{flag} must be a positive number, got {value}; e.g. {flag} {example}")


def _job(args: argparse.Namespace) -> tuple[Any, Any, list[str]]:
    """The model layout, setup and notes from the config or the shape flags plus overrides."""
    from backends.plan import GPTShape, PlanError, TrainSetup, gpt_layout
    from backends.plan.planner import layout_from_train_config, read_toml, setup_from_train_config

    shape_flags = (args.layers, args.d_model, args.heads, args.vocab)
    notes: list[str] = []
    if args.config is None:
        missing = [flag for flag, value in zip(
            ("--layers", "--d-model", "--heads", "--vocab", "--seq-len"),
            (*shape_flags, args.seq_len), strict=True) if value is None]
        if missing:
            raise CommandError(
                "give a preset or config TOML, or a GPT shape; missing " + ", ".join(missing))
        layout = gpt_layout(GPTShape(
            n_layer=args.layers, n_embd=args.d_model, n_head=args.heads, vocab_size=args.vocab,
            block_size=args.seq_len, mlp_ratio=args.mlp_ratio, bias=not args.no_bias,
            tied=not args.untied))
        setup = TrainSetup(seq_len=args.seq_len)
    else:
        if any(v is not None for v in shape_flags):
            raise CommandError("give either a config or --layers/--d-model/--heads/--vocab, "
                               "not both")
        config = read_toml(_config_path(args.config, args.runs_dir))
        if "model" not in config and "n_layer" in config:
            config = {"model": "gpt", "model_config": config}  # a bare GPT model config
        layout, notes = layout_from_train_config(config)
        setup = setup_from_train_config(config, layout)
        if args.seq_len is not None:
            setup.seq_len = args.seq_len
    overrides = {
        "strategy": args.strategy, "world_size": args.world_size, "tp": args.tp,
        "batch_size": args.batch_size, "precision": args.precision,
        "optimizer": args.optimizer, "grad_accum": args.grad_accum,
    }
    for key, value in overrides.items():
        if value is not None and not (key == "strategy" and str(value).lower() == "all"):
            setattr(setup, key, value)
    if args.checkpointing:
        setup.activation_checkpointing = True
    setup.__post_init__()  # normalise the strategy and precision names just set
    if setup.strategy == "tp" and args.tp is None:
        setup.tp = setup.world_size
    if setup.strategy == "single" and args.world_size and args.world_size > 1 \
            and args.strategy is None:
        raise PlanError(f"--world-size {args.world_size} needs a strategy: --strategy ddp, fsdp, "
                        "tp or fsdp_tp")
    if str(args.strategy or "").lower() != "all":
        setup.check(layout)
    return layout, setup, notes


def _config_path(where: str, runs_dir: Path) -> Path:
    """A TOML path, a run folder (its config.toml), a run name, or a preset name."""
    from resources import resource_path

    path = Path(where).expanduser()
    if path.is_dir():
        path = path / "config.toml"
    if path.is_file():
        return path
    if (runs_dir / where / "config.toml").is_file():
        return runs_dir / where / "config.toml"
    preset = resource_path("presets", f"{where.removesuffix('.toml')}.toml")
    if preset.is_file():
        return Path(str(preset))
    names = sorted(p.name.removesuffix(".toml") for p in resource_path("presets").iterdir()
                   if p.name.endswith(".toml"))
    raise CommandError(f"{where!r} is neither a TOML file, a run nor a preset; presets: "
                       f"{', '.join(names)}")


def _gib(n: float) -> str:
    if n < _GIB:
        return f"{n / 2**20:10.3f} MiB"
    return f"{n / _GIB:10.3f} GiB"


def _print_plan(plan: Any) -> None:
    d = plan.as_dict()
    s = d["setup"]
    print(f"model {d['model']}: {d['params']:,} parameters "
          f"({d['non_embedding_params']:,} non-embedding)")
    print("weights: " + ", ".join(f"{k} {v / _GIB:.3f} GiB" for k, v in d["weights_bytes"].items()))
    print(f"strategy {s['strategy']} on {s['world_size']} rank(s) (dp {s['dp']}, tp {s['tp']}), "
          f"micro-batch {s['batch_size']}, precision {s['precision']}, optimizer {s['optimizer']}"
          + (", activation checkpointing" if s["activation_checkpointing"] else ""))
    print("memory per rank:")
    for part, value in d["per_rank_bytes"].items():
        if value or part == "total":
            print(f"  {part:<12}{_gib(value)}")
    c = d["comm"]
    print(f"communication per step: {d['comm_bytes_per_step'] / 1e9:.3f} GB per rank, "
          f"{c['seconds_per_step'] * 1e3:.2f} ms at {c['bandwidth'] / 1e9:.0f} GB/s ({c['link']})")
    comp = d["compute"]
    print(f"compute: {comp['flops_per_token']:.3e} FLOPs/token; Chinchilla-optimal "
          f"{comp['chinchilla_tokens']:.3e} tokens")
    if "seconds" in comp:
        print(f"  {comp['tokens']:.3e} tokens at {comp['tokens_per_second']:.3e} tokens/s: "
              f"{comp['seconds'] / 3600:.2f} h" + (f", MFU {comp['mfu']:.1%}" if "mfu" in comp
                                                   else ""))
    if d["fits"] is not None:
        print("fits on the device" if d["fits"] else "does NOT fit on the device")
    for note in d["notes"]:
        print(f"note: {note}")


def _print_table(layout: Any, rows: list[dict[str, Any]]) -> None:
    parts = ("params", "grads", "optimizer", "master", "buffers", "activations", "transient",
             "total")
    biggest = max((r["total"] for r in rows if "total" in r), default=0)
    unit, scale = ("GiB", _GIB) if biggest >= _GIB else ("MiB", 2**20)
    print(f"model {layout.kind}: {layout.params:,} parameters; per-rank {unit} by strategy")
    print(f"{'strategy':<14}" + "".join(f"{p:>12}" for p in parts) + f"{'comm GB':>10}  fits")
    for row in rows:
        if "error" in row:
            print(f"{row['strategy']:<14}  {row['error']}")
            continue
        fits = {True: "yes", False: "NO", None: "-"}[row["fits"]]
        print(f"{row['strategy']:<14}" + "".join(f"{row[p] / scale:12.3f}" for p in parts)
              + f"{row['comm_bytes_per_step'] / 1e9:10.3f}  {fits}")


def _print_lists(args: argparse.Namespace, gpus: dict[str, Any], links: dict[str, Any]) -> int:
    if args.json:
        out: dict[str, Any] = {}
        if args.list_gpus:
            out["gpus"] = {n: {"memory_bytes": g.memory_bytes, "bf16": g.bf16, "fp16": g.fp16,
                               "fp32": g.fp32, "tf32": g.tf32} for n, g in gpus.items()}
        if args.list_links:
            out["links"] = {n: {"name": t, "bandwidth": bw} for n, (t, bw) in links.items()}
        print(json.dumps(out, indent=2))
        return 0
    if args.list_gpus:
        for name, g in gpus.items():
            print(f"{name:<12} {g.memory_bytes / 1e9:6.0f} GB  bf16 {g.bf16 / 1e12:6.1f} TFLOP/s  "
                  f"fp32 {g.fp32 / 1e12:5.1f} TFLOP/s")
    if args.list_links:
        for key, (title, bw) in links.items():
            print(f"{key:<8} {bw / 1e9:6.1f} GB/s  {title}")
    return 0
