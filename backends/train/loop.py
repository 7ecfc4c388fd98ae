"""The training loop that every rank runs: set up, train, measure, checkpoint, stop.

:func:`run_training` is what ``python -m backends.train`` (and so torchrun)
calls on each rank; with one process and strategy ``single`` it also runs
in-process, which is how the tests check resume and stop quickly.

Per optimizer step each rank: takes its share of the global batch
(``backends.train.data.GlobalBatches``), runs ``grad_accum`` micro-steps under
autocast, clips by the norm of the full gradient, steps AdamW with the LR of a
linear-warmup + cosine schedule, then joins one all-reduce that carries the
losses and the stop flag, so all ranks agree on the reported loss and on when
to stop. Every rank writes its own metrics (``metrics/rank_<r>.jsonl``);
rank 0 writes lifecycle events, samples and checkpoint metadata.

Stopping: SIGTERM or SIGINT (torchrun forwards them) or a ``stop`` file in
the run folder makes every rank finish the current step, save a checkpoint
and return; rank 0 records ``stopped``. A failure is recorded as an ``error``
event with the rank and traceback before it propagates (torchrun's ``@record``
then writes the error file the launcher reads).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from backends import checkpoint as ckpt
from backends.parallel import STRATEGIES, build_mesh, dp_coordinates, parallel_dims
from backends.parallel.grads import clip_grad_norm
from backends.progress import Cancelled, ProgressCallback, report
from backends.runs import MetricsWriter, RunDir, record_event
from backends.train.config import TrainConfig, TrainConfigError, resolve_device, validate
from backends.train.data import GlobalBatches, TrainData, load_data
from backends.train.metrics import memory_record
from backends.train.tasks import DCGANTask, Task, build_task

STOP_FILE = "stop"


@dataclass
class TrainResult:
    status: str  # "finished" | "stopped"
    step: int
    final_loss: float | None
    checkpoint: str | None


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine decay."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, (config.decay_steps or config.steps) - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------- process setup


@dataclass
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def init_distributed(config: TrainConfig) -> DistInfo:
    """Join the process group (every strategy but single) on the right device and backend."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world != config.world_size:
        raise TrainConfigError(
            f"started with {world} processes but the config asks for nproc x nnodes = "
            f"{config.world_size}: launch with the command the workbench builds"
        )
    device_type = resolve_device(config.device)
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if STRATEGIES[config.strategy].distributed and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device_type == "cuda" else {}
        dist.init_process_group(backend, **kwargs)
    return DistInfo(rank, world, local_rank, device)


class _StopFlag:
    """Set by SIGTERM / SIGINT; the loop checks it (and the stop file) once per step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (in-process use): the stop file still works
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------- the trainer


class Trainer:
    """One rank's training state; :meth:`run` trains to ``config.steps`` or until stopped."""

    def __init__(
        self, run: RunDir, config: TrainConfig, info: DistInfo, progress: ProgressCallback | None = None
    ) -> None:
        self.run_dir, self.config, self.info, self.progress = run, config, info, progress
        self.rank, self.device = info.rank, info.device
        self.strategy = STRATEGIES[config.strategy]
        self.dims = parallel_dims(config.strategy, info.world_size, config.tp)
        self.mesh = build_mesh(config.strategy, self.dims, self.device.type)
        self.dp_rank, self.dp_size = dp_coordinates(config.strategy, self.mesh)
        self.task: Task = build_task(config)
        self.data: TrainData = load_data(config)
        self.batches = GlobalBatches(len(self.data.train), config.batch_size, config.seed)
        self.model_config = self._model_config()

        from backends.models import MODELS

        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.root: nn.Module = MODELS[config.model].build(self.model_config).to(self.device)
        self.root.train()
        self.fwd: dict[str, nn.Module] = {}
        for name, part in self.task.parts(self.root).items():
            self.fwd[name] = self.strategy.apply(part, self.mesh, self.device)
        self.part_names = list(self.fwd)
        self.optimizers = {name: self._optimizer(part) for name, part in self.task.parts(self.root).items()}
        self.scaler = (
            torch.amp.GradScaler("cuda")
            if config.precision == "fp16" and self.device.type == "cuda"
            else None
        )
        self.parameters = [p for p in self.root.parameters()]
        self.writer = MetricsWriter(run, self.rank)
        self.start_step = 0
        self.stop = _StopFlag()
        self._last_loss: float | None = None
        if config.resume:
            self._resume(config.resume)
        # Per-rank randomness (dropout, GAN noise) after the shared init; TP peers share it.
        if not config.resume:
            self._seed_rank()

    # -------------------------------------------------------------- setup helpers

    def _model_config(self) -> Any:
        from backends.models import MODELS

        values = {**self.config.model_config, **self.data.model_fields}
        return MODELS[self.config.model].config_class.from_dict(values)

    def _optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        c = self.config
        # No weight decay on biases and norm scales (1-D); matrices and embeddings decay.
        groups: dict[tuple, list[nn.Parameter]] = {}
        for p in module.parameters():
            if not p.requires_grad:
                continue
            # Plain tensors and DTensors on different meshes go in separate groups: the
            # fused multi-tensor update cannot mix them.
            layout = (id(p.device_mesh), tuple(p.placements)) if hasattr(p, "device_mesh") else None
            groups.setdefault((p.dim() >= 2, layout), []).append(p)
        param_groups = [
            {"params": params, "weight_decay": c.weight_decay if decay else 0.0}
            for (decay, _), params in groups.items()
        ]
        return torch.optim.AdamW(param_groups, lr=lr_at(0, c), betas=(c.beta1, c.beta2))

    def _seed_rank(self) -> None:
        seed = self.config.seed + 1 + self.dp_rank
        torch.manual_seed(seed)
        random.seed(seed)

    def autocast(self) -> contextlib.AbstractContextManager:
        p = self.config.precision
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if p == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _meta(self) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "model_config": self.model_config.to_dict(),
            "tokenizer": self.data.tokenizer,
            "dataset": self.data.dataset,
            "data_extra": {k: v for k, v in self.data.extra.items() if k != "prompt"},
            "strategy": self.config.strategy,
            "world_size": self.info.world_size,
            "train_config": self.config.to_dict(),
            "saved": time.time(),
        }

    # -------------------------------------------------------------- state

    def _rng_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _gather_rng(self) -> list[dict[str, Any]]:
        mine = self._rng_state()
        if not dist.is_initialized():
            return [mine]
        gathered: list[Any] = [None] * self.info.world_size
        dist.all_gather_object(gathered, mine)
        return gathered

    def save(self, step: int) -> str:
        train_state = {
            "step": step,
            "samples_seen": step * self.config.batch_size,
            "world_size": self.info.world_size,
            "scheduler": {"kind": "warmup_cosine", "step": step},
            "rng": self._gather_rng(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }
        path = ckpt.save_checkpoint(
            self.run_dir.checkpoints_dir,
            step,
            root=self.root,
            optimizers=[self.optimizers[n] for n in self.part_names],
            train_state=train_state,
            meta=self._meta(),
            sharded=self.strategy.sharded,
            full_weights=self.config.full_weights,
            rank=self.rank,
            keep=self.config.keep_checkpoints,
        )
        if self.rank == 0:
            record_event(self.run_dir, "checkpoint", step=step, path=str(path))
        return str(path)

    def _resume(self, source: str) -> None:
        folder = ckpt.check_resumable(
            source, model=self.config.model, model_config=self.model_config.to_dict(),
            sharded=self.strategy.sharded,
        )
        state = ckpt.restore_checkpoint(
            folder,
            root=self.root,
            optimizers=[self.optimizers[n] for n in self.part_names],
            sharded=self.strategy.sharded,
        )
        self.start_step = int(state["step"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        rngs = state.get("rng") or []
        if int(state.get("world_size", 0)) == self.info.world_size and len(rngs) > self.rank:
            mine = rngs[self.rank]
            torch.set_rng_state(mine["torch"])
            random.setstate(_as_tuple(mine["python"]))
            if self.device.type == "cuda" and mine.get("cuda") is not None:
                torch.cuda.set_rng_state(mine["cuda"], self.device)
        else:
            self._seed_rank()  # another world size: data order is exact, noise is fresh
        if self.rank == 0:
            record_event(self.run_dir, "resumed", step=self.start_step, source=str(folder))

    # -------------------------------------------------------------- one step

    def _sync_context(self, name: str, last: bool) -> contextlib.AbstractContextManager:
        module = self.fwd[name]
        if last:
            if hasattr(module, "set_requires_gradient_sync"):
                module.set_requires_gradient_sync(True)
            return contextlib.nullcontext()
        if hasattr(module, "no_sync"):  # DDP: accumulate locally, all-reduce on the last micro-step
            return module.no_sync()
        if hasattr(module, "set_requires_gradient_sync"):  # FSDP2: the same, by flag
            module.set_requires_gradient_sync(False)
        return contextlib.nullcontext()

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _finish(self, name: str) -> torch.Tensor:
        opt = self.optimizers[name]
        params = [p for group in opt.param_groups for p in group["params"]]
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        norm = clip_grad_norm(params, self.config.grad_clip)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        return norm

    def _zero(self, name: str) -> None:
        self.optimizers[name].zero_grad(set_to_none=True)

    def train_step(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        lr = lr_at(step, self.config)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        micro = [
            tuple(t.to(self.device, non_blocking=True) for t in self.data.train.batch(idx))
            for idx in self.batches.micro_batches(step, self.dp_rank, self.dp_size, self.config.grad_accum)
        ]
        if isinstance(self.task, DCGANTask):
            return self.task.step(
                self.fwd, micro, self.model_config.nz, self._backward, self._finish,
                self.autocast, self._zero,
            )
        name = self.part_names[0]
        self._zero(name)
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(micro):
            with self._sync_context(name, last=i == len(micro) - 1):
                with self.autocast():
                    loss, parts = self.task.loss(self.fwd, batch)
                self._backward(loss / len(micro))
            for key, value in {"loss": loss, **parts}.items():
                sums[key] = sums.get(key, 0) + value.detach().float() / len(micro)
        return sums, {"grad_norm": self._finish(name)}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean validation loss over ``eval_batches`` global batches (the same ones every time)."""
        val = self.data.val
        if val is None or not self.task.has_eval:
            return {}
        for module in self.fwd.values():
            module.eval()
        sums: dict[str, torch.Tensor] = {}
        n = self.config.eval_batches
        try:
            for b in range(n):
                idx = torch.arange(b * self.config.batch_size, (b + 1) * self.config.batch_size) % len(val)
                share = idx.chunk(self.dp_size)[self.dp_rank]
                batch = tuple(t.to(self.device) for t in val.batch(share))
                with self.autocast():
                    loss, parts = self.task.loss(self.fwd, batch)
                for key, value in {"loss": loss, **parts}.items():
                    sums[key] = sums.get(key, 0) + value.float() / n
        finally:
            for module in self.fwd.values():
                module.train()
        keys = sorted(sums)
        packed = torch.stack([sums[k] for k in keys])
        if dist.is_initialized():
            dist.all_reduce(packed)
            packed /= self.info.world_size
        return dict(zip(keys, packed.tolist(), strict=True))

    # -------------------------------------------------------------- the loop

    def _stop_requested(self) -> bool:
        return self.stop.requested or (self.run_dir.path / STOP_FILE).exists()

    def run(self) -> TrainResult:
        c = self.config
        self.stop.install()
        if self.rank == 0:
            record_event(
                self.run_dir, "started", step=self.start_step, strategy=c.strategy,
                world_size=self.info.world_size, device=self.device.type, host=socket.gethostname(),
                dataset=self.data.dataset, parameters=sum(p.numel() for p in self.root.parameters()),
            )
        tokens_per_batch = self.task.tokens(c.batch_size, self.data)
        step = self.start_step
        status, checkpoint = "finished", None
        try:
            while step < c.steps:
                t0 = time.perf_counter()
                parts, extra = self.train_step(step)
                step += 1
                keys = sorted(parts)
                local_stop = 1.0 if self._stop_requested() else 0.0
                if self.progress is not None:
                    try:
                        report(self.progress, step / c.steps)
                    except Cancelled:
                        local_stop = 1.0
                # One collective per step: the mean losses and whether any rank must stop.
                packed = torch.stack([parts[k] for k in keys] + [torch.tensor(local_stop, device=self.device)])
                if dist.is_initialized():
                    dist.all_reduce(packed)
                    packed[:-1] /= self.info.world_size
                values = packed.tolist()
                step_time = time.perf_counter() - t0
                means = dict(zip(keys, values[:-1], strict=True))
                self._last_loss = means.get("loss")
                if step % c.log_every == 0 or step == 1 or step == c.steps:
                    record = {
                        **means,
                        **{k: float(v) for k, v in extra.items()},
                        "lr": lr_at(step - 1, c),
                        "step_time": step_time,
                        "samples_per_s": c.batch_size / step_time,
                    }
                    if tokens_per_batch:
                        record["tokens_per_s"] = tokens_per_batch / step_time
                    self.writer.write(step, "train", **record)
                    self.writer.write(
                        step, "memory",
                        **memory_record(self.device, self.parameters, list(self.optimizers.values())),
                    )
                if c.eval_every and step % c.eval_every == 0:
                    result = self.evaluate()
                    if result:
                        self.writer.write(step, "val", **result)
                if c.sample_every and step % c.sample_every == 0:
                    self._sample(step)
                if values[-1] > 0:
                    status = "stopped"
                    break
                if c.checkpoint_every and step % c.checkpoint_every == 0 and step < c.steps:
                    checkpoint = self.save(step)
            if c.sample_every and status == "finished" and step % c.sample_every:
                self._sample(step)
            checkpoint = self.save(step)
        finally:
            self.stop.restore()
            self.writer.close()
        if self.rank == 0:
            record_event(self.run_dir, status, step=step, final_loss=self._last_loss, checkpoint=checkpoint)
        return TrainResult(status, step, self._last_loss, checkpoint)

    def _sample(self, step: int) -> None:
        path = self.task.sample(
            self.fwd, self.data, step, self.run_dir.samples_dir, self.rank == 0, self.config.seed
        )
        if path is not None and self.rank == 0:
            record_event(self.run_dir, "sample", step=step, path=str(path))

    def close(self) -> None:
        self.writer.close()


def _as_tuple(value: Any) -> Any:
    """Python's RNG state back from the lists a checkpoint may hold."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(v) for v in value)
    return value


def _record_error(run: RunDir, rank: int, exc: BaseException) -> None:
    """The rank's ``error`` event; a full disk is named as such, and never hides the error."""
    import errno

    from backends.launch import guard

    if guard.launcher_gone():  # a peer vanished because the launcher was killed: not a crash
        guard.record_killed(run)
        return
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        from backends.launch.space import release

        release(run)  # the run's reserve makes room for this event
        message = f"disk full: {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    try:
        record_event(run, "error", rank=rank, message=message, traceback=traceback.format_exc())
    except OSError:
        pass  # the disk is full: torchrun's error file and the rank's log still carry it


def run_training(
    run: RunDir, config: TrainConfig, progress: ProgressCallback | None = None
) -> TrainResult:
    """Validate, join the process group, train; errors become an ``error`` event, then propagate."""
    from backends.launch.ownership import rank_presence

    rank = int(os.environ.get("RANK", "0"))
    try:
        with rank_presence(run, rank, os.getpid()):  # the run reads as live while we train
            validate(config)
            info = init_distributed(config)
            # One line per rank in its own stderr log: the first thing a failure report shows.
            print(
                f"rank {info.rank}/{info.world_size} pid {os.getpid()} on {info.device}: "
                f"{config.model} with {config.strategy}, steps {config.steps}",
                file=sys.stderr, flush=True,
            )
            trainer = Trainer(run, config, info, progress)
            try:
                return trainer.run()
            finally:
                trainer.close()
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt | SystemExit):
            _record_error(run, rank, exc)
        raise
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
