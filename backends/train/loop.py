"""The training loop that every rank runs: set up, train, measure, checkpoint, stop.

:func:`run_training` is what ``python -m backends.train`` (and so torchrun)
calls on each rank; with one process and strategy ``single`` it also runs
in-process, which is how the tests check resume and stop quickly.

Per optimizer step each rank: takes its share of the global batch
(``backends.train.data.GlobalBatches``), lets the objective run the step
(``backends.train.objectives``: ``grad_accum`` micro-steps under autocast,
clipping by the norm of the full gradient, AdamW with the LR of a
linear-warmup + cosine schedule), then joins one all-reduce that carries the
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

import os
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
from backends.progress import Cancelled, ProgressCallback, report
from backends.runs import MetricsWriter, RunDir, record_event
from backends.train.config import TrainConfig, validate
from backends.train.data import Batch, GlobalBatches, TrainData, load_data
from backends.train.metrics import memory_record
from backends.train.objectives import LossParts, Objective, build_objective
from backends.train.optimizer import build_adamw
from backends.train.process import DistInfo, StopSignals, init_distributed
from backends.train.rng import gather_rng_states, restore_rng_state, seed_everything
from backends.train.schedule import lr_at, set_lr
from backends.train.step import StepOps

__all__ = ["TrainResult", "Trainer", "lr_at", "run_training"]  # lr_at: the training form's LR preview


@dataclass
class TrainResult:
    status: str  # "finished" | "stopped"
    step: int
    final_loss: float | None
    checkpoint: str | None


class Trainer:
    """One rank's training state; :meth:`run` trains to ``config.steps`` or until stopped."""

    def __init__(
        self, run: RunDir, config: TrainConfig, info: DistInfo, progress: ProgressCallback | None = None
    ) -> None:
        self.run_dir, self.config, self.info, self.progress = run, config, info, progress
        self.rank, self.device = info.rank, info.device
        self.strategy = STRATEGIES[config.strategy]
        self.dims = parallel_dims(config.strategy, info.world_size, config.tp)
        self.mesh = build_mesh(self.dims, self.device.type)
        self.dp_rank, self.dp_size = dp_coordinates(self.dims, self.mesh)
        self.objective: Objective = build_objective(config)
        self.data: TrainData = load_data(config)
        self.batches = GlobalBatches(len(self.data.train), config.batch_size, config.seed)
        self.model_config = self._model_config()
        self.root = self._build_model()
        self.ops = self._step_ops()
        self.parameters = [p for p in self.root.parameters()]
        self.writer = MetricsWriter(run, self.rank)
        self.start_step = 0
        self.stop = StopSignals()
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

    def _build_model(self) -> nn.Module:
        """The plain model, with identical initial weights on every rank, in training mode."""
        from backends.models import MODELS

        torch.manual_seed(self.config.seed)
        root = MODELS[self.config.model].build(self.model_config).to(self.device)
        root.train()
        return root

    def _step_ops(self) -> StepOps:
        """The objective's parts parallelised by the strategy, their optimizers and scaler."""
        modules = {
            name: self.strategy.apply(part, self.mesh, self.device)
            for name, part in self.objective.parts(self.root).items()
        }
        # After the strategy: a sharded part's optimizer holds its DTensor shards.
        optimizers = {name: build_adamw(part, self.config) for name, part in self.objective.parts(self.root).items()}
        scaler = (
            torch.amp.GradScaler("cuda")
            if self.config.precision == "fp16" and self.device.type == "cuda"
            else None
        )
        return StepOps(
            modules=modules, optimizers=optimizers, precision=self.config.precision,
            device_type=self.device.type, max_grad_norm=self.config.grad_clip, grad_scaler=scaler,
        )

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every part's optimizer, in the objective's part order (the checkpoint's order)."""
        return list(self.ops.optimizers.values())

    def _seed_rank(self) -> None:
        seed_everything(self.config.seed + 1 + self.dp_rank)

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

    def save(self, step: int) -> str:
        scaler = self.ops.grad_scaler
        train_state = {
            "step": step,
            "samples_seen": step * self.config.batch_size,
            "world_size": self.info.world_size,
            "scheduler": {"kind": "warmup_cosine", "step": step},
            "rng": gather_rng_states(self.device, self.info.world_size),
            "scaler": scaler.state_dict() if scaler is not None else None,
        }
        path = ckpt.save_checkpoint(
            self.run_dir.checkpoints_dir,
            step,
            root=self.root,
            optimizers=self.optimizers,
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
            folder, root=self.root, optimizers=self.optimizers, sharded=self.strategy.sharded,
        )
        self.start_step = int(state["step"])
        if self.ops.grad_scaler is not None and state.get("scaler"):
            self.ops.grad_scaler.load_state_dict(state["scaler"])
        rngs = state.get("rng") or []
        if int(state.get("world_size", 0)) == self.info.world_size and len(rngs) > self.rank:
            restore_rng_state(rngs[self.rank], self.device)
        else:
            self._seed_rank()  # another world size: data order is exact, noise is fresh
        if self.rank == 0:
            record_event(self.run_dir, "resumed", step=self.start_step, source=str(folder))

    # -------------------------------------------------------------- one step

    def _micro_batches(self, step: int) -> list[Batch]:
        """This rank's share of step ``step``'s global batch, as ``grad_accum`` micro-batches."""
        return [
            tuple(t.to(self.device, non_blocking=True) for t in self.data.train.batch(idx))
            for idx in self.batches.micro_batches(step, self.dp_rank, self.dp_size, self.config.grad_accum)
        ]

    def train_step(self, step: int) -> tuple[LossParts, dict[str, torch.Tensor]]:
        """Optimizer step ``step`` (0-based): mean losses of this rank's share; gradient norms."""
        set_lr(self.optimizers, lr_at(step, self.config))
        return self.objective.step(self.ops, self._micro_batches(step))

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean validation loss over ``eval_batches`` global batches (the same ones every time)."""
        val = self.data.val
        if val is None or not self.objective.has_eval:
            return {}
        modules = self.ops.modules
        for module in modules.values():
            module.eval()
        sums: dict[str, torch.Tensor] = {}
        n = self.config.eval_batches
        try:
            for b in range(n):
                idx = torch.arange(b * self.config.batch_size, (b + 1) * self.config.batch_size) % len(val)
                share = idx.chunk(self.dp_size)[self.dp_rank]
                batch = tuple(t.to(self.device) for t in val.batch(share))
                with self.ops.autocast():
                    loss, parts = self.objective.loss(modules, batch)
                for key, value in {"loss": loss, **parts}.items():
                    sums[key] = sums.get(key, 0) + value.float() / n
        finally:
            for module in modules.values():
                module.train()
        keys = sorted(sums)
        packed = torch.stack([sums[k] for k in keys])
        if dist.is_initialized():
            dist.all_reduce(packed)
            packed /= self.info.world_size
        return dict(zip(keys, packed.tolist(), strict=True))

    # -------------------------------------------------------------- the loop

    def run(self) -> TrainResult:
        c = self.config
        self.stop.install()
        if self.rank == 0:
            self._record_started()
        step = self.start_step
        status, checkpoint = "finished", None
        try:
            while step < c.steps:
                stop = self._step_and_report(step)
                step += 1
                if stop:
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

    def _record_started(self) -> None:
        record_event(
            self.run_dir, "started", step=self.start_step, strategy=self.config.strategy,
            world_size=self.info.world_size, device=self.device.type, host=socket.gethostname(),
            dataset=self.data.dataset, parameters=sum(p.numel() for p in self.root.parameters()),
        )

    def _step_and_report(self, step: int) -> bool:
        """Train step ``step`` (0-based), log, evaluate and sample as due; True: every rank stops."""
        c = self.config
        t0 = time.perf_counter()
        parts, norms = self.train_step(step)
        done = step + 1
        means, stop = self._mean_across_ranks(parts, self._stop_wanted_here(done))
        step_time = time.perf_counter() - t0
        self._last_loss = means.get("loss")
        if done % c.log_every == 0 or done == 1 or done == c.steps:
            self._log_train(done, means, norms, step_time)
        if c.eval_every and done % c.eval_every == 0:
            result = self.evaluate()
            if result:
                self.writer.write(done, "val", **result)
        if c.sample_every and done % c.sample_every == 0:
            self._sample(done)
        return stop

    def _stop_wanted_here(self, done: int) -> bool:
        """This rank was asked to stop (signal, stop file), or its progress callback cancelled."""
        wanted = self.stop.stop_requested(self.run_dir.path)
        if self.progress is not None:
            try:
                report(self.progress, done / self.config.steps)
            except Cancelled:
                wanted = True
        return wanted

    def _mean_across_ranks(self, parts: LossParts, stop_here: bool) -> tuple[dict[str, float], bool]:
        """One collective per step: the mean losses, and whether any rank must stop."""
        keys = sorted(parts)
        flag = torch.tensor(1.0 if stop_here else 0.0, device=self.device)
        packed = torch.stack([parts[k] for k in keys] + [flag])
        if dist.is_initialized():
            dist.all_reduce(packed)
            packed[:-1] /= self.info.world_size
        values = packed.tolist()
        return dict(zip(keys, values[:-1], strict=True)), values[-1] > 0

    def _log_train(
        self, step: int, means: dict[str, float], norms: dict[str, torch.Tensor], step_time: float
    ) -> None:
        c = self.config
        record = {
            **means,
            **{k: float(v) for k, v in norms.items()},
            "lr": lr_at(step - 1, c),
            "step_time": step_time,
            "samples_per_s": c.batch_size / step_time,
        }
        tokens_per_batch = self.objective.tokens(c.batch_size, self.data)
        if tokens_per_batch:
            record["tokens_per_s"] = tokens_per_batch / step_time
        self.writer.write(step, "train", **record)
        self.writer.write(step, "memory", **memory_record(self.device, self.parameters, self.optimizers))

    def _sample(self, step: int) -> None:
        path = self.objective.sample(
            self.ops.modules, self.data, step, self.run_dir.samples_dir, self.rank == 0, self.config.seed
        )
        if path is not None and self.rank == 0:
            record_event(self.run_dir, "sample", step=step, path=str(path))

    def close(self) -> None:
        self.writer.close()


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
